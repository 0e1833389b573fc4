# egresscheck on every Nomad client, once per run of the job (sysbatch): each client checks
# its own egress path and writes textfile metrics for node_exporter. Documentation: nothing
# in CI can run Nomad; the egresscheck flags below are checked against the binary by the
# tests (tests/contrib.rs).
#
#   nomad job run egresscheck.nomad.hcl       # then: nomad job periodic force egresscheck
job "egresscheck" {
  type = "sysbatch"

  periodic {
    crons            = ["*/15 * * * *"]
    prohibit_overlap = true
  }

  group "check" {
    task "egresscheck" {
      driver = "raw_exec"

      config {
        command = "/usr/local/bin/egresscheck"
        args = [
          "check", "--env", "prod",
          "--label", "site=${node.datacenter}",
          "--label", "node=${node.unique.name}",
          "--format", "prometheus",
          "--output", "/var/lib/node_exporter/textfile/egresscheck.prom",
        ]
      }

      resources {
        cpu    = 100
        memory = 128
      }
    }
  }
}
