//! The probe engine: DNS, TCP and TLS against every planned address, through a proxy when
//! asked. The only module of egresscheck that touches the network.

pub mod model;
