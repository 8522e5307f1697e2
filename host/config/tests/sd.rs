//! The service discovery configs of `wasmetheus_config::sd` (H2's
//! mechanisms): Prometheus' defaults, every validation text, YAML nulls
//! read as zero values, secrets never shown.

use serde::de::DeserializeOwned;
use wasmetheus_config::sd::aws::AwsSdConfig;
use wasmetheus_config::sd::consul::ConsulSdConfig;
use wasmetheus_config::sd::docker::DockerSdConfig;
use wasmetheus_config::sd::dockerswarm::DockerswarmSdConfig;
use wasmetheus_config::sd::eureka::EurekaSdConfig;
use wasmetheus_config::sd::gce::GceSdConfig;
use wasmetheus_config::sd::kuma::KumaSdConfig;
use wasmetheus_config::sd::marathon::MarathonSdConfig;
use wasmetheus_config::sd::nerve::NerveSdConfig;
use wasmetheus_config::sd::nomad::NomadSdConfig;
use wasmetheus_config::sd::oci::OciSdConfig;
use wasmetheus_config::sd::openstack::OpenstackSdConfig;
use wasmetheus_config::sd::puppetdb::PuppetdbSdConfig;
use wasmetheus_config::sd::serverset::ServersetSdConfig;
use wasmetheus_config::sd::triton::TritonSdConfig;
use wasmetheus_config::sd::uyuni::UyuniSdConfig;

trait Validate {
    fn check(&mut self) -> Result<(), String>;
}

macro_rules! validate {
    ($($t:ty),*) => {
        $(impl Validate for $t {
            fn check(&mut self) -> Result<(), String> {
                self.validate()
            }
        })*
    };
}
validate!(
    AwsSdConfig,
    ConsulSdConfig,
    DockerSdConfig,
    DockerswarmSdConfig,
    EurekaSdConfig,
    GceSdConfig,
    KumaSdConfig,
    MarathonSdConfig,
    NerveSdConfig,
    NomadSdConfig,
    OciSdConfig,
    OpenstackSdConfig,
    PuppetdbSdConfig,
    ServersetSdConfig,
    TritonSdConfig,
    UyuniSdConfig
);

fn load<T: DeserializeOwned + Validate>(yaml: &str) -> Result<T, String> {
    let mut config: T = serde_saphyr::from_str(yaml).map_err(|e| e.to_string())?;
    config.check()?;
    Ok(config)
}

fn error<T: DeserializeOwned + Validate + std::fmt::Debug>(yaml: &str) -> String {
    match load::<T>(yaml) {
        Ok(config) => panic!("accepted {yaml:?}: {config:?}"),
        Err(e) => e,
    }
}

fn secs(n: u64) -> std::time::Duration {
    std::time::Duration::from_secs(n)
}

#[test]
fn consul_defaults_credentials_and_checks() {
    let c: ConsulSdConfig = load("{}").unwrap();
    assert_eq!(c.server, "localhost:8500");
    assert_eq!(c.scheme, "http");
    assert_eq!(c.tag_separator, ",");
    assert!(c.allow_stale && c.follow_redirects && c.enable_http2);
    assert_eq!(c.refresh_interval.0, secs(30));

    let c: ConsulSdConfig = load("username: u\npassword: p\n").unwrap();
    let basic = c.basic_auth.unwrap();
    assert_eq!(basic.username, "u");
    assert_eq!(basic.password.unwrap().expose(), "p");
    assert!(c.username.is_empty() && c.password.is_empty());

    let c: ConsulSdConfig = load(
        "health_filter: 'Service.Tags contains \"x\"'\nfilter: a\nservices:\ntags:\nnode_meta:\n",
    )
    .unwrap();
    assert!(c.services.is_empty() && c.tags.is_empty() && c.node_meta.is_empty());

    assert_eq!(
        error::<ConsulSdConfig>("server: '  '\n"),
        "consul SD configuration requires a server address"
    );
    assert_eq!(
        error::<ConsulSdConfig>("server:\n"),
        "consul SD configuration requires a server address"
    );
    assert_eq!(
        error::<ConsulSdConfig>("username: u\nbasic_auth: {username: v}\n"),
        "at most one of consul SD configuration username and password and basic auth can be configured"
    );
    assert_eq!(
        error::<ConsulSdConfig>("token: t\nauthorization: {credentials: c}\n"),
        "at most one of consul SD token, authorization, or oauth2 can be configured"
    );
    assert_eq!(
        error::<ConsulSdConfig>("bearer_token: a\nbearer_token_file: b\n"),
        "at most one of bearer_token & bearer_token_file must be configured"
    );
    assert!(error::<ConsulSdConfig>("servr: x\n").contains("unknown field"));
}

#[test]
fn docker_and_swarm() {
    let d: DockerSdConfig = load("host: unix:///var/run/docker.sock\n").unwrap();
    assert_eq!(d.port, 80);
    assert_eq!(d.host_networking_host, "localhost");
    assert!(d.match_first_network);
    assert_eq!(d.refresh_interval.0, secs(60));
    let d: DockerSdConfig = load(
        "host: tcp://h:2375\nfilters: [{name: label, values: [a]}]\nmatch_first_network: false\n",
    )
    .unwrap();
    assert_eq!(d.filters[0].values, ["a"]);
    assert!(!d.match_first_network);
    assert_eq!(error::<DockerSdConfig>("port: 1\n"), "host missing");
    assert!(error::<DockerSdConfig>("host: \":x\"\n").contains("missing protocol scheme"));

    let s: DockerswarmSdConfig = load("host: http://127.0.0.1:2375\nrole: nodes\n").unwrap();
    assert_eq!((s.port, s.refresh_interval.0), (80, secs(60)));
    assert_eq!(
        error::<DockerswarmSdConfig>("role: tasks\n"),
        "host missing"
    );
    assert_eq!(
        error::<DockerswarmSdConfig>("host: http://h\n"),
        "role missing (one of: tasks, services, nodes)"
    );
    assert_eq!(
        error::<DockerswarmSdConfig>("host: http://h\nrole: containers\n"),
        "invalid role containers, expected tasks, services, or nodes"
    );
}

#[test]
fn nomad() {
    let n: NomadSdConfig = load("{}").unwrap();
    assert!(n.allow_stale);
    assert_eq!(n.namespace, "default");
    assert_eq!(n.region, "global");
    assert_eq!(n.tag_separator, ",");
    assert_eq!(n.refresh_interval.0, secs(60));
    assert_eq!(n.server, "http://localhost:4646");
    let n: NomadSdConfig = load("region: r\n").unwrap();
    assert_eq!(n.server, "http://localhost:4646");
    assert_eq!(
        error::<NomadSdConfig>("server: ' '\n"),
        "nomad SD configuration requires a server address"
    );
}

#[test]
fn marathon_tokens_exclude_other_credentials() {
    let m: MarathonSdConfig = load("servers: [http://m:8080]\nauth_token: 1234\n").unwrap();
    assert_eq!(m.auth_token.expose(), "1234");
    assert_eq!(m.refresh_interval.0, secs(30));
    let cases = [
        (
            "servers:\n",
            "marathon_sd: must contain at least one Marathon server",
        ),
        (
            "servers: [a]\nauth_token: t\nauth_token_file: f\n",
            "marathon_sd: at most one of auth_token & auth_token_file must be configured",
        ),
        (
            "servers: [a]\nauth_token: t\nbasic_auth: {username: u}\n",
            "marathon_sd: at most one of basic_auth, auth_token & auth_token_file must be configured",
        ),
        (
            "servers: [a]\nauth_token_file: t\nbearer_token: b\n",
            "marathon_sd: at most one of bearer_token, bearer_token_file, auth_token & auth_token_file must be configured",
        ),
        (
            "servers: [a]\nauth_token: t\nauthorization: {credentials: c}\n",
            "marathon_sd: at most one of auth_token, auth_token_file & authorization must be configured",
        ),
    ];
    for (yaml, want) in cases {
        assert_eq!(error::<MarathonSdConfig>(yaml), want, "{yaml}");
    }
}

#[test]
fn eureka_puppetdb_kuma_uyuni_urls() {
    let e: EurekaSdConfig = load("server: http://localhost:8761/eureka\n").unwrap();
    assert_eq!(e.refresh_interval.0, secs(30));
    assert_eq!(
        error::<EurekaSdConfig>("server:\n"),
        "eureka_sd: empty or null eureka server"
    );
    assert_eq!(
        error::<EurekaSdConfig>("server: eureka.com\n"),
        "eureka_sd: invalid eureka server URL"
    );

    let p: PuppetdbSdConfig = load("url: https://puppet/\nquery: q\n").unwrap();
    assert_eq!((p.port, p.refresh_interval.0), (80, secs(60)));
    assert!(!p.include_parameters);
    let cases = [
        ("query: q\n", "URL is missing"),
        (
            "url: ftp://puppet\nquery: q\n",
            "URL scheme must be 'http' or 'https'",
        ),
        ("url: http://\nquery: q\n", "host is missing in URL"),
        ("url: http://puppet\n", "query missing"),
        (
            "url: http://puppet\nquery: q\nbearer_token: a\nbearer_token_file: b\n",
            "at most one of bearer_token & bearer_token_file must be configured",
        ),
    ];
    for (yaml, want) in cases {
        assert_eq!(error::<PuppetdbSdConfig>(yaml), want, "{yaml}");
    }

    let k: KumaSdConfig = load("server: http://kuma:5676\n").unwrap();
    assert_eq!(k.refresh_interval.0, secs(15));
    assert_eq!(k.fetch_timeout.0, secs(120));
    assert!(error::<KumaSdConfig>("client_id: c\n").contains("kuma SD server must not be empty"));
    assert!(
        error::<KumaSdConfig>("server: kuma:5676\n")
            .contains("kuma SD server must not be empty and have a scheme")
    );

    let u: UyuniSdConfig = load("server: https://u\nusername: a\npassword: b\n").unwrap();
    assert_eq!(u.entitlement, "monitoring_entitled");
    assert_eq!(u.separator, ",");
    assert_eq!(u.refresh_interval.0, secs(60));
    let cases = [
        ("server:\n", "Uyuni SD configuration requires server host"),
        (
            "server: s\npassword: p\n",
            "Uyuni SD configuration requires a username",
        ),
        (
            "server: s\nusername: u\n",
            "Uyuni SD configuration requires a password",
        ),
        (
            "server: s\nusername: u\npassword: p\nbearer_token: a\nbearer_token_file: b\n",
            "at most one of bearer_token & bearer_token_file must be configured",
        ),
    ];
    for (yaml, want) in cases {
        assert_eq!(error::<UyuniSdConfig>(yaml), want, "{yaml}");
    }
    assert!(
        error::<UyuniSdConfig>("server: \":u\"\n").starts_with("Uyuni Server URL is not valid")
    );
}

#[test]
fn triton() {
    let t: TritonSdConfig = load("account: a\ndns_suffix: d\nendpoint: e\n").unwrap();
    assert_eq!(t.role, "container");
    assert_eq!((t.port, t.version), (9163, 1));
    assert_eq!(t.refresh_interval.0, secs(60));
    let cases = [
        (
            "role: vm\naccount: a\ndns_suffix: d\nendpoint: e\n",
            "triton SD configuration requires role to be 'container' or 'cn'",
        ),
        (
            "dns_suffix: d\nendpoint: e\n",
            "triton SD configuration requires an account",
        ),
        (
            "account: a\nendpoint: e\n",
            "triton SD configuration requires a dns_suffix",
        ),
        (
            "account: a\ndns_suffix: d\n",
            "triton SD configuration requires an endpoint",
        ),
        (
            "account: a\ndns_suffix: d\nendpoint: e\nrefresh_interval: 0s\n",
            "triton SD configuration requires RefreshInterval to be a positive integer",
        ),
    ];
    for (yaml, want) in cases {
        assert_eq!(error::<TritonSdConfig>(yaml), want, "{yaml}");
    }
    assert!(error::<TritonSdConfig>("bearer_token: x\n").contains("unknown field"));
}

#[test]
fn zookeeper_serverset_and_nerve() {
    let s: ServersetSdConfig = load("servers: [zk:2181]\npaths: [/a]\n").unwrap();
    assert_eq!(s.timeout.0, secs(10));
    assert_eq!(
        error::<ServersetSdConfig>("paths: [/a]\n"),
        "serverset SD config must contain at least one Zookeeper server"
    );
    assert_eq!(
        error::<ServersetSdConfig>("servers: [zk]\npaths:\n"),
        "serverset SD config must contain at least one path"
    );
    assert_eq!(
        error::<ServersetSdConfig>("servers: [zk]\npaths: [/a, b]\n"),
        "serverset SD config paths must begin with '/': b"
    );
    assert_eq!(
        error::<NerveSdConfig>("servers: [zk]\npaths: [b]\n"),
        "nerve SD config paths must begin with '/': b"
    );
    assert_eq!(
        error::<NerveSdConfig>("paths: [/b]\n"),
        "nerve SD config must contain at least one Zookeeper server"
    );
}

#[test]
fn openstack() {
    let o: OpenstackSdConfig = load("role: instance\nregion: r\n").unwrap();
    assert_eq!(o.availability, "public");
    assert_eq!((o.port, o.refresh_interval.0), (80, secs(60)));
    load::<OpenstackSdConfig>("role: loadbalancer\nregion: r\navailability: admin\n").unwrap();
    assert!(
        error::<OpenstackSdConfig>("role: invalid\n")
            .contains("unknown OpenStack SD role \"invalid\"")
    );
    assert_eq!(
        error::<OpenstackSdConfig>("availability: invalid\n"),
        "unknown availability invalid, must be one of admin, internal or public"
    );
    assert_eq!(
        error::<OpenstackSdConfig>("region: r\n"),
        "role missing (one of: instance, hypervisor, loadbalancer)"
    );
    assert_eq!(
        error::<OpenstackSdConfig>("role: hypervisor\n"),
        "openstack SD configuration requires a region"
    );
}

#[test]
fn gce() {
    let g: GceSdConfig = load("project: p\nzone: z\n").unwrap();
    assert_eq!((g.port, g.tag_separator.as_str()), (80, ","));
    assert_eq!(
        error::<GceSdConfig>("zone: z\n"),
        "GCE SD configuration requires a project"
    );
    assert_eq!(
        error::<GceSdConfig>("project: p\n"),
        "GCE SD configuration requires a zone"
    );
}

#[test]
fn oci_auth_methods() {
    let api_key = "region: r\ntenancy: t\nuser: u\nfingerprint: f\nkey_file: k\n";
    let o: OciSdConfig = load(api_key).unwrap();
    assert_eq!(o.auth, "api_key");
    assert_eq!((o.port, o.refresh_interval.0), (9100, secs(60)));
    load::<OciSdConfig>("auth: instance_principal\nregion: r\n").unwrap();
    assert_eq!(
        error::<OciSdConfig>("auth: invalid\nregion: r\n"),
        "oci_sd: unknown auth method \"invalid\", expected \"api_key\" or \"instance_principal\""
    );
    assert!(error::<OciSdConfig>("tenancy: t\n").contains("requires a region"));
    assert!(error::<OciSdConfig>("region: r\nuser: u\n").contains("requires tenancy"));
    assert!(
        error::<OciSdConfig>(&format!(
            "{api_key}key_passphrase: a\nkey_passphrase_file: b\n"
        ))
        .contains("at most one of key_passphrase and key_passphrase_file")
    );
    assert!(
        error::<OciSdConfig>("auth: instance_principal\nregion: r\ntenancy: t\n")
            .contains("must not have tenancy")
    );
    assert!(
        error::<OciSdConfig>(&format!("{api_key}compartments: [a, '']\n"))
            .contains("compartments[1] must not be empty")
    );
    assert!(
        error::<OciSdConfig>(&format!("{api_key}refresh_interval: 0s\n"))
            .contains("refresh_interval must be positive")
    );
}

#[test]
fn aws_roles() {
    let a: AwsSdConfig = load("role: ecs\nregion: eu-west-1\nclusters: [c]\n").unwrap();
    assert_eq!(a.refresh_interval.0, secs(60));
    assert_eq!(a.clusters, ["c"]);
    for role in ["ec2", "lightsail", "msk"] {
        load::<AwsSdConfig>(&format!("role: {role}\nregion: r\n")).unwrap();
    }
    assert!(error::<AwsSdConfig>("role: rds\nregion: r\n").contains("unknown AWS SD role \"rds\""));
    assert!(error::<AwsSdConfig>("region: r\n").contains("unknown AWS SD role \"\""));
}

#[test]
fn secrets_are_not_serialised() {
    let c: ConsulSdConfig = load("token: tok-1\npassword: pw-2\n").unwrap();
    let m: MarathonSdConfig = load("servers: [a]\nauth_token: tok-3\n").unwrap();
    let o: OciSdConfig =
        load("region: r\ntenancy: t\nuser: u\nfingerprint: f\nkey_file: k\nkey_passphrase: pw-4\n")
            .unwrap();
    let u: UyuniSdConfig = load("server: https://u\nusername: a\npassword: pw-5\n").unwrap();
    let s: OpenstackSdConfig =
        load("role: instance\nregion: r\npassword: pw-6\napplication_credential_secret: pw-7\n")
            .unwrap();
    let e: EurekaSdConfig = load("server: http://user:pw-8@eureka/eureka\n").unwrap();
    let shown = [
        serde_json::to_string(&c).unwrap() + &format!("{c:?}"),
        serde_json::to_string(&m).unwrap() + &format!("{m:?}"),
        serde_json::to_string(&o).unwrap() + &format!("{o:?}"),
        serde_json::to_string(&u).unwrap() + &format!("{u:?}"),
        serde_json::to_string(&s).unwrap() + &format!("{s:?}"),
        serde_json::to_string(&e).unwrap(),
    ]
    .concat();
    for secret in [
        "tok-1", "pw-2", "tok-3", "pw-4", "pw-5", "pw-6", "pw-7", "pw-8",
    ] {
        assert!(!shown.contains(secret), "{secret} shown in {shown}");
    }
}

#[test]
fn hostile_input_is_an_error_not_a_panic() {
    let deep = format!("servers: {}{}\n", "[".repeat(10_000), "]".repeat(10_000));
    assert!(load::<MarathonSdConfig>(&deep).is_err());
    let long = format!("server: http://{}\n", "a".repeat(1 << 20));
    load::<EurekaSdConfig>(&long).unwrap();
    assert!(load::<PuppetdbSdConfig>("url: [1, 2]\nquery: q\n").is_err());
    assert!(load::<DockerSdConfig>("host: \"http://h\\u0000\"\n").is_err());
}

#[test]
fn nested_tls_and_oauth2_are_checked_first_as_prometheus_reads_them() {
    assert_eq!(
        error::<MarathonSdConfig>("tls_config: {cert_file: c}\n"),
        "exactly one of key or key_file must be configured when a client certificate is configured"
    );
    assert_eq!(
        error::<PuppetdbSdConfig>("oauth2: {token_url: http://t}\n"),
        "oauth2 client_id must be configured"
    );
    assert!(
        error::<AwsSdConfig>("role: nope\ntls_config: {min_version: TLS9}\n")
            .contains("unknown AWS SD role")
    );
}
