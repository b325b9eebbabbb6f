//! The etcd quorum gate: whether the local etcd member may be restarted, from
//! the member list and each member's health as the local etcd reported them.
//! Also reads etcd's JSON answers (the v3 gateway's member list, `/health`).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use serde_json::Value;

/// The exit status of a run that refuses to restart etcd.
pub const REFUSAL_EXIT_CODE: u8 = 2;

/// The flag that overrides a refusal.
pub const FORCE_FLAG: &str = "--force-etcd-restart";

/// What is known of one member's health.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Health {
    /// It answered `/health` with `{"health":"true"}`.
    Healthy,
    /// It answered that it is not healthy, did not answer, or has not started.
    Unhealthy(String),
    /// It was not asked (its client URLs are not this node's): why.
    Unknown(String),
}

impl Health {
    /// Whether the member answered healthy.
    pub fn is_healthy(&self) -> bool {
        matches!(self, Self::Healthy)
    }
}

/// One member of the etcd cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// Its member ID.
    pub id: u64,
    /// Its name (empty for a member added but not started yet).
    pub name: String,
    /// Its client URLs (empty for a member not started yet).
    pub client_urls: Vec<String>,
    /// Its health.
    pub health: Health,
}

impl Member {
    /// How messages name it: its name, else its ID in hex (as etcdctl prints it).
    pub fn label(&self) -> String {
        if self.name.is_empty() {
            format!("{:x}", self.id)
        } else {
            self.name.clone()
        }
    }
}

/// The cluster as the local etcd member sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quorum {
    /// The ID of the member that answered (the one a restart would stop), when it said.
    pub local: Option<u64>,
    /// Every member, in the order etcd listed them.
    pub members: Vec<Member>,
}

impl Quorum {
    /// The member that answered, if it is in the list.
    pub fn local_member(&self) -> Option<&Member> {
        self.local
            .and_then(|id| self.members.iter().find(|member| member.id == id))
    }

    /// The members other than the one that answered (every member when it is not known).
    pub fn others(&self) -> impl Iterator<Item = &Member> {
        self.members
            .iter()
            .filter(move |member| Some(member.id) != self.local)
    }
}

/// Why etcd may not be restarted now.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The cluster has exactly two members: the one left is not a quorum.
    #[error(
        "etcd has two members ({}): while one restarts the other alone is not a quorum (2 of 2 are needed) and the cluster stops; {FORCE_FLAG} overrides",
        names.join(", ")
    )]
    TwoMembers {
        /// The members' labels.
        names: Vec<String>,
    },
    /// Another member is not known to be healthy.
    #[error("{}; {FORCE_FLAG} overrides", others_message(local.as_deref(), not_healthy))]
    OthersNotHealthy {
        /// The member a restart would stop, when known.
        local: Option<String>,
        /// The other members not known healthy, with what is known of each.
        not_healthy: Vec<(String, Health)>,
    },
    /// etcd listed no member at all.
    #[error(
        "etcd listed no members, so whether a restart keeps a quorum is unknown; {FORCE_FLAG} overrides"
    )]
    NoMembers,
    /// The local etcd could not be asked.
    #[error(
        "etcd could not be asked for its members ({0}), so whether a restart keeps a quorum is unknown; {FORCE_FLAG} overrides"
    )]
    Unasked(String),
}

impl Refusal {
    /// The exit status a refusal ends the run with.
    pub fn exit_code(&self) -> u8 {
        REFUSAL_EXIT_CODE
    }
}

fn others_message(local: Option<&str>, not_healthy: &[(String, Health)]) -> String {
    let who = local.map_or_else(
        || "restarting etcd is refused".to_owned(),
        |local| format!("restarting etcd member {local} is refused"),
    );
    let listed: Vec<String> = not_healthy
        .iter()
        .map(|(name, health)| match health {
            Health::Healthy => format!("{name} (healthy)"),
            Health::Unhealthy(why) => format!("{name} (unhealthy: {why})"),
            Health::Unknown(why) => format!("{name} (health unknown: {why})"),
        })
        .collect();
    let (subject, verb) = if listed.len() == 1 {
        ("another member", "is")
    } else {
        ("other members", "are")
    };
    format!(
        "{who}: {subject}, {}, {verb} not known to be healthy",
        listed.join(", ")
    )
}

/// Whether the local etcd member may be restarted: not when the cluster has
/// exactly two members, or another member is not known healthy, or no member
/// was listed; `force` allows it anyway. A one-member cluster is allowed
/// (its restart is an outage: see [`notice`]).
pub fn may_restart(quorum: &Quorum, force: bool) -> Result<(), Refusal> {
    match refusal(quorum) {
        Some(refusal) if !force => Err(refusal),
        _ => Ok(()),
    }
}

/// As [`may_restart`] when the local etcd could not be asked at all.
pub fn may_restart_unasked(why: &str, force: bool) -> Result<(), Refusal> {
    if force {
        Ok(())
    } else {
        Err(Refusal::Unasked(why.to_owned()))
    }
}

/// What to tell the operator about a restart that is allowed: the outage of
/// a one-member cluster, or the refusal `force` overrode.
pub fn notice(quorum: &Quorum, force: bool) -> Option<String> {
    if let Some(refusal) = refusal(quorum) {
        return force.then(|| {
            format!(
                "{FORCE_FLAG}: restarting etcd although {}",
                reason(&refusal)
            )
        });
    }
    match quorum.members.as_slice() {
        [only] => Some(format!(
            "etcd has one member ({}): restarting it stops etcd, and the API server with it, until it is back",
            only.label()
        )),
        _ => None,
    }
}

/// A refusal's message without the hint about the override.
fn reason(refusal: &Refusal) -> String {
    let text = refusal.to_string();
    text.strip_suffix(&format!("; {FORCE_FLAG} overrides"))
        .map_or(text.clone(), str::to_owned)
}

fn refusal(quorum: &Quorum) -> Option<Refusal> {
    match quorum.members.len() {
        0 => return Some(Refusal::NoMembers),
        1 => return None,
        2 => {
            return Some(Refusal::TwoMembers {
                names: quorum.members.iter().map(Member::label).collect(),
            });
        }
        _ => {}
    }
    let not_healthy: Vec<(String, Health)> = quorum
        .others()
        .filter(|member| !member.health.is_healthy())
        .map(|member| (member.label(), member.health.clone()))
        .collect();
    (!not_healthy.is_empty()).then(|| Refusal::OthersNotHealthy {
        local: quorum.local_member().map(Member::label),
        not_healthy,
    })
}

/// A member as listed, before its health is known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    /// Its member ID.
    pub id: u64,
    /// Its name.
    pub name: String,
    /// Its client URLs.
    pub client_urls: Vec<String>,
}

/// The answer to `POST /v3/cluster/member/list`: the ID of the member that
/// answered (`header.member_id`) and the members. IDs are 64-bit numbers the
/// gateway writes as strings.
pub fn parse_member_list(bytes: &[u8]) -> Result<(Option<u64>, Vec<Listed>), String> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|err| format!("the member list is not JSON ({err})"))?;
    let local = id_of(&value["header"]["member_id"]);
    let Some(members) = value.get("members") else {
        return Err("the answer holds no member list".into());
    };
    let members = members
        .as_array()
        .ok_or("the member list is not a list")?
        .iter()
        .map(|member| {
            let id = id_of(&member["ID"]).ok_or("a member has no valid ID")?;
            let name = member["name"].as_str().unwrap_or_default().to_owned();
            let client_urls = member["clientURLs"]
                .as_array()
                .map(|urls| {
                    urls.iter()
                        .filter_map(|url| url.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            Ok(Listed {
                id,
                name,
                client_urls,
            })
        })
        .collect::<Result<_, String>>()?;
    Ok((local, members))
}

fn id_of(value: &Value) -> Option<u64> {
    match value {
        Value::String(text) => text.parse().ok(),
        Value::Number(number) => number.as_u64(),
        _ => None,
    }
}

/// The answer to `GET /health`: whether it says `"health": "true"`.
pub fn parse_health(bytes: &[u8]) -> Result<bool, String> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|err| format!("the health answer is not JSON ({err})"))?;
    match &value["health"] {
        Value::String(text) => Ok(text == "true"),
        Value::Bool(healthy) => Ok(*healthy),
        _ => Err("the health answer says nothing of health".into()),
    }
}

/// The address of an `https://IP:port` client URL (`localhost` is loopback);
/// `None` for another scheme or a host name.
pub fn client_url_address(url: &str) -> Option<SocketAddr> {
    let rest = url.trim().strip_prefix("https://")?;
    let authority = rest.split('/').next()?;
    let (host, port) = authority.rsplit_once(':')?;
    let port: u16 = port.parse().ok()?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let ip = if host == "localhost" {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        host.parse().ok()?
    };
    Some(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: u64, name: &str, health: Health) -> Member {
        Member {
            id,
            name: name.to_owned(),
            client_urls: vec![format!("https://127.0.0.1:{}", 2000 + id)],
            health,
        }
    }

    fn cluster(healths: &[Health]) -> Quorum {
        Quorum {
            local: Some(1),
            members: healths
                .iter()
                .enumerate()
                .map(|(at, health)| {
                    let id = u64::try_from(at).unwrap() + 1;
                    member(id, &format!("cp-{id}"), health.clone())
                })
                .collect(),
        }
    }

    fn healthy(count: usize) -> Vec<Health> {
        vec![Health::Healthy; count]
    }

    #[test]
    fn one_member_is_allowed_and_the_outage_is_said() {
        let one = cluster(&healthy(1));
        assert_eq!(may_restart(&one, false), Ok(()));
        let said = notice(&one, false).unwrap();
        assert!(said.contains("one member (cp-1)"), "{said}");
        assert!(said.contains("stops etcd"), "{said}");
        let down = cluster(&[Health::Unhealthy("no leader".into())]);
        assert_eq!(may_restart(&down, false), Ok(()));
    }

    #[test]
    fn two_members_are_refused_naming_both_unless_forced() {
        let two = cluster(&healthy(2));
        let refusal = may_restart(&two, false).unwrap_err();
        assert_eq!(
            refusal,
            Refusal::TwoMembers {
                names: vec!["cp-1".into(), "cp-2".into()]
            }
        );
        let message = refusal.to_string();
        assert!(message.contains("cp-1, cp-2"), "{message}");
        assert!(
            message.ends_with("--force-etcd-restart overrides"),
            "{message}"
        );
        assert_eq!(refusal.exit_code(), 2);
        assert_eq!(may_restart(&two, true), Ok(()));
        let forced = notice(&two, true).unwrap();
        assert!(
            forced
                .starts_with("--force-etcd-restart: restarting etcd although etcd has two members"),
            "{forced}"
        );
        assert!(!forced.contains("overrides"), "{forced}");
        assert_eq!(notice(&two, false), None);
    }

    #[test]
    fn three_and_five_healthy_members_are_allowed() {
        for count in [3, 5] {
            let quorum = cluster(&healthy(count));
            assert_eq!(may_restart(&quorum, false), Ok(()), "{count}");
            assert_eq!(notice(&quorum, false), None);
        }
    }

    #[test]
    fn another_unhealthy_or_unknown_member_refuses_and_names_it() {
        let mut healths = healthy(5);
        healths[2] = Health::Unhealthy("connection refused".into());
        healths[4] = Health::Unknown("its client URLs are not this node's".into());
        let quorum = cluster(&healths);
        let refusal = may_restart(&quorum, false).unwrap_err();
        let Refusal::OthersNotHealthy { local, not_healthy } = &refusal else {
            panic!("{refusal:?}");
        };
        assert_eq!(local.as_deref(), Some("cp-1"));
        let names: Vec<&str> = not_healthy.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["cp-3", "cp-5"]);
        let message = refusal.to_string();
        assert!(
            message.contains("cp-3 (unhealthy: connection refused)"),
            "{message}"
        );
        assert!(
            message.contains("cp-5 (health unknown: its client URLs"),
            "{message}"
        );
        assert!(message.contains("are not known to be healthy"), "{message}");
        assert!(
            message.ends_with("--force-etcd-restart overrides"),
            "{message}"
        );
        assert_eq!(may_restart(&quorum, true), Ok(()));

        let mut three = healthy(3);
        three[1] = Health::Unhealthy("it says it is not healthy".into());
        let message = may_restart(&cluster(&three), false)
            .unwrap_err()
            .to_string();
        assert!(
            message.starts_with("restarting etcd member cp-1 is refused: another member, cp-2 (unhealthy: it says it is not healthy), is not known to be healthy"),
            "{message}"
        );
    }

    #[test]
    fn the_local_members_own_health_does_not_refuse_but_an_unknown_local_counts_everyone() {
        let mut healths = healthy(3);
        healths[0] = Health::Unhealthy("no leader".into());
        let quorum = cluster(&healths);
        assert_eq!(may_restart(&quorum, false), Ok(()));
        let anonymous = Quorum {
            local: None,
            ..quorum
        };
        let message = may_restart(&anonymous, false).unwrap_err().to_string();
        assert!(
            message.starts_with("restarting etcd is refused: another member, cp-1"),
            "{message}"
        );
    }

    #[test]
    fn no_members_or_no_answer_refuses_unless_forced() {
        let none = Quorum {
            local: None,
            members: Vec::new(),
        };
        assert_eq!(may_restart(&none, false), Err(Refusal::NoMembers));
        assert_eq!(may_restart(&none, true), Ok(()));
        let refusal = may_restart_unasked("connection refused", false).unwrap_err();
        assert!(refusal.to_string().contains("(connection refused)"));
        assert_eq!(refusal.exit_code(), 2);
        assert_eq!(may_restart_unasked("connection refused", true), Ok(()));
    }

    #[test]
    fn etcds_answers_are_read() {
        // As etcd 3.4.23's v3 gateway answers.
        let list = br#"{"header":{"cluster_id":"3165861432240664924","member_id":"10152022657631960081","raft_term":"4"},"members":[{"ID":"7031166718905174318","name":"b","peerURLs":["https://127.0.0.1:23803"],"clientURLs":["https://127.0.0.1:23793"]},{"ID":"10152022657631960081","name":"a","peerURLs":["https://127.0.0.1:23802"],"clientURLs":["https://127.0.0.1:23792"]}]}"#;
        let (local, members) = parse_member_list(list).unwrap();
        assert_eq!(local, Some(10_152_022_657_631_960_081));
        assert_eq!(members.len(), 2);
        assert_eq!(members[0].name, "b");
        assert_eq!(members[0].id, 7_031_166_718_905_174_318);
        assert_eq!(members[0].client_urls, ["https://127.0.0.1:23793"]);
        // A member added but not started has no name and no client URLs.
        let (_, unstarted) =
            parse_member_list(br#"{"members":[{"ID":"17","peerURLs":["https://10.0.0.3:2380"]}]}"#)
                .unwrap();
        assert_eq!(unstarted[0].name, "");
        assert!(unstarted[0].client_urls.is_empty());
        assert!(parse_member_list(b"not json").is_err());
        assert!(parse_member_list(b"{}").is_err());
        assert!(parse_member_list(br#"{"members":[{"name":"x"}]}"#).is_err());

        assert_eq!(parse_health(br#"{"health":"true"}"#), Ok(true));
        assert_eq!(parse_health(br#"{"health":"false"}"#), Ok(false));
        assert!(parse_health(b"Method Not Allowed").is_err());
    }

    #[test]
    fn client_urls_are_read_as_addresses() {
        assert_eq!(
            client_url_address("https://127.0.0.1:2379"),
            Some("127.0.0.1:2379".parse().unwrap())
        );
        assert_eq!(
            client_url_address("https://[::1]:2379/"),
            Some("[::1]:2379".parse().unwrap())
        );
        assert_eq!(
            client_url_address("https://localhost:2379"),
            Some("127.0.0.1:2379".parse().unwrap())
        );
        assert_eq!(client_url_address("http://127.0.0.1:2379"), None);
        assert_eq!(client_url_address("https://etcd.example:2379"), None);
    }
}
