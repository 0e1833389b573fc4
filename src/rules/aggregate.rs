//! Prefix aggregation: the fewest prefixes that cover exactly the given ones.
//!
//! A prefix inside another is dropped; two sibling prefixes (the halves of one supernet)
//! become their supernet, repeatedly. Each prefix carries a tag (the origins of a rule) and
//! tags are merged along with the prefixes, so an aggregated rule still names every host,
//! service and expiry it stands for.
//!
//! One sort, then one pass with a stack: O(n log n) for n prefixes, plus the cost of the tag
//! merges, which callers keep small-to-large. 100,000 prefixes take milliseconds; nothing here
//! is quadratic. ipnet's `aggregate` does the prefix part, but without tags.

use ipnet::IpNet;

/// Aggregates `items` (prefixes of one family, host bits clear) and merges the tags of the
/// prefixes that are folded together with `merge(into, from)`. The result is sorted by
/// address.
pub(crate) fn aggregate<T>(
    mut items: Vec<(IpNet, T)>,
    mut merge: impl FnMut(&mut T, T),
) -> Vec<(IpNet, T)> {
    // Wider prefixes first at the same address, so a covering prefix is on the stack before
    // the prefixes it covers.
    items.sort_by_key(|(net, _)| (net.network(), net.prefix_len()));
    let mut stack: Vec<(IpNet, T)> = Vec::with_capacity(items.len());
    for (net, tag) in items {
        // Everything below the top ends before the top starts, and `net` starts at or after
        // the top's start: only the top can cover it.
        if let Some((top, top_tag)) = stack.last_mut()
            && top.contains(&net)
        {
            merge(top_tag, tag);
            continue;
        }
        stack.push((net, tag));
        while let Some(merged) = merge_siblings(&mut stack, &mut merge) {
            stack.push(merged);
        }
    }
    stack
}

/// Pops the two top prefixes and returns their supernet when they are siblings.
fn merge_siblings<T>(
    stack: &mut Vec<(IpNet, T)>,
    merge: &mut impl FnMut(&mut T, T),
) -> Option<(IpNet, T)> {
    let len = stack.len();
    let [(a, _), (b, _)] = stack.get(len.checked_sub(2)?..)? else {
        return None;
    };
    if a.prefix_len() != b.prefix_len() || !a.is_sibling(b) {
        return None;
    }
    let supernet = a.supernet()?;
    let (_, b_tag) = stack.pop()?;
    let (_, mut a_tag) = stack.pop()?;
    merge(&mut a_tag, b_tag);
    Some((supernet, a_tag))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn nets(list: &[&str]) -> Vec<(IpNet, BTreeSet<String>)> {
        list.iter()
            .map(|s| (s.parse().unwrap(), BTreeSet::from([s.to_string()])))
            .collect()
    }

    fn run(list: &[&str]) -> Vec<(String, BTreeSet<String>)> {
        aggregate(nets(list), |a, b| a.extend(b))
            .into_iter()
            .map(|(n, t)| (n.to_string(), t))
            .collect()
    }

    fn prefixes(list: &[&str]) -> Vec<String> {
        run(list).into_iter().map(|(n, _)| n).collect()
    }

    #[test]
    fn covered_prefixes_fold_into_the_cover_with_their_tags() {
        let out = run(&["159.216.17.128/27", "159.216.17.148/32", "51.13.21.170/32"]);
        assert_eq!(
            out,
            vec![
                (
                    "51.13.21.170/32".into(),
                    BTreeSet::from(["51.13.21.170/32".into()])
                ),
                (
                    "159.216.17.128/27".into(),
                    BTreeSet::from(["159.216.17.128/27".into(), "159.216.17.148/32".into()])
                ),
            ]
        );
    }

    #[test]
    fn siblings_merge_repeatedly() {
        assert_eq!(
            prefixes(&["10.0.0.0/32", "10.0.0.1/32", "10.0.0.2/32", "10.0.0.3/32"]),
            vec!["10.0.0.0/30"]
        );
        // Not siblings: 10.0.0.1/32 and 10.0.0.2/32 are adjacent but in different /31s.
        assert_eq!(
            prefixes(&["10.0.0.1/32", "10.0.0.2/32"]),
            vec!["10.0.0.1/32", "10.0.0.2/32"]
        );
        assert_eq!(
            prefixes(&["2a13:6200::/33", "2a13:6200:8000::/33", "2a13:6201::/32"]),
            vec!["2a13:6200::/31"]
        );
    }

    #[test]
    fn duplicates_collapse_and_order_does_not_matter() {
        assert_eq!(
            prefixes(&["10.0.0.4/32", "10.0.0.4/32", "10.0.0.0/30", "10.0.0.5/32"]),
            vec!["10.0.0.0/30", "10.0.0.4/31"]
        );
        assert_eq!(prefixes(&["0.0.0.0/1", "128.0.0.0/1"]), vec!["0.0.0.0/0"]);
        assert_eq!(prefixes(&["0.0.0.0/0", "10.0.0.0/8"]), vec!["0.0.0.0/0"]);
        assert!(prefixes(&[]).is_empty());
    }

    #[test]
    fn a_wider_prefix_after_narrow_ones_absorbs_them() {
        // Sorted by address then length, 10.0.0.0/24 comes before 10.0.0.0/32 and covers it;
        // 10.0.1.0/24 is its sibling.
        assert_eq!(
            prefixes(&["10.0.0.0/32", "10.0.1.7/32", "10.0.1.0/24", "10.0.0.0/24"]),
            vec!["10.0.0.0/23"]
        );
    }

    #[test]
    fn matches_a_brute_force_cover_check() {
        // A deterministic pseudo-random set of prefixes inside 10.0.0.0/20: the aggregate
        // must cover exactly the same addresses, hold no nested or sibling pairs, and carry
        // every input tag.
        let mut seed = 0x2545_f491_u32;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed
        };
        for _round in 0..20 {
            let mut input = Vec::new();
            for _ in 0..200 {
                let len = 24 + (next() % 9) as u8;
                let addr = u32::from(std::net::Ipv4Addr::new(10, 0, 0, 0)) + (next() % 4096);
                let net = ipnet::Ipv4Net::new(addr.into(), len).unwrap().trunc();
                input.push(net.to_string());
            }
            let refs: Vec<&str> = input.iter().map(String::as_str).collect();
            let out = run(&refs);
            let covered = |list: &[IpNet], a: u32| {
                list.iter()
                    .any(|n| n.contains(&std::net::IpAddr::from(std::net::Ipv4Addr::from(a))))
            };
            let ins: Vec<IpNet> = refs.iter().map(|s| s.parse().unwrap()).collect();
            let outs: Vec<IpNet> = out.iter().map(|(s, _)| s.parse().unwrap()).collect();
            let base = u32::from(std::net::Ipv4Addr::new(10, 0, 0, 0));
            for a in base..base + 4096 + 256 {
                assert_eq!(covered(&ins, a), covered(&outs, a), "address {a}");
            }
            for (i, a) in outs.iter().enumerate() {
                for b in outs.iter().skip(i + 1) {
                    assert!(!a.contains(b) && !b.contains(a), "{a} {b} nest");
                    assert!(!(a.prefix_len() == b.prefix_len() && a.is_sibling(b)));
                }
            }
            let tags: BTreeSet<String> = out.iter().flat_map(|(_, t)| t.clone()).collect();
            assert_eq!(tags, input.iter().cloned().collect::<BTreeSet<_>>());
        }
    }
}
