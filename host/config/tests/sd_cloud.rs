//! The cloud service discovery configs (EC2, Lightsail, Azure,
//! DigitalOcean, Hetzner, Linode, Vultr, Scaleway, IONOS, OVHcloud,
//! STACKIT, OUTSCALE) read and checked as Prometheus 3.14 reads them:
//! defaults, Go's reading of empty values, every validation text, secrets
//! kept out of the serialised form, hostile input refused without a panic,
//! and each of these configs in Prometheus' own fixtures and examples
//! (`$WASMETHEUS_CONFORMANCE/config`, default
//! `<workspace>/../shared/conformance/config`) loading or failing with
//! upstream's text.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use wasmetheus_config::sd::azure::AzureSdConfig;
use wasmetheus_config::sd::digitalocean::DigitaloceanSdConfig;
use wasmetheus_config::sd::ec2::Ec2SdConfig;
use wasmetheus_config::sd::hetzner::HetznerSdConfig;
use wasmetheus_config::sd::ionos::IonosSdConfig;
use wasmetheus_config::sd::lightsail::LightsailSdConfig;
use wasmetheus_config::sd::linode::LinodeSdConfig;
use wasmetheus_config::sd::outscale::OutscaleSdConfig;
use wasmetheus_config::sd::ovhcloud::OvhcloudSdConfig;
use wasmetheus_config::sd::scaleway::ScalewaySdConfig;
use wasmetheus_config::sd::stackit::StackitSdConfig;
use wasmetheus_config::sd::vultr::VultrSdConfig;

/// The configs' common `validate`.
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
    Ec2SdConfig,
    LightsailSdConfig,
    AzureSdConfig,
    DigitaloceanSdConfig,
    HetznerSdConfig,
    LinodeSdConfig,
    VultrSdConfig,
    ScalewaySdConfig,
    IonosSdConfig,
    OvhcloudSdConfig,
    StackitSdConfig,
    OutscaleSdConfig
);

/// Reads and validates one config.
fn load<T: DeserializeOwned + Validate>(yaml: &str) -> Result<T, String> {
    let mut config: T = serde_saphyr::from_str(yaml).map_err(|e| e.to_string())?;
    config.check()?;
    Ok(config)
}

fn error<T: DeserializeOwned + Validate + std::fmt::Debug>(yaml: &str) -> String {
    match load::<T>(yaml) {
        Ok(config) => panic!("accepted {yaml:?} as {config:?}"),
        Err(e) => e,
    }
}

const AZURE_OAUTH: &str = "subscription_id: 11AAAA11-A11A-111A-A111-1111A1111A11
tenant_id: BBBB222B-B2B2-2B22-B222-2BB2222BB2B2
client_id: 333333CC-3C33-3333-CCC3-33C3CCCCC33C
client_secret: mysecret
";
const SCALEWAY: &str = "role: instance
project_id: 11111111-1111-1111-1111-111111111112
access_key: SCWXXXXXXXXXXXXXXXXX
secret_key: 11111111-1111-1111-1111-111111111111
";
const OVHCLOUD: &str = "service: vps
application_key: key
application_secret: secret
consumer_key: consumer
";
const OUTSCALE: &str = "access_key: A1B2C3D4E5F6G7H8I9J0
secret_key: XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX
";

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

#[test]
fn defaults_are_prometheus_defaults() {
    let ec2: Ec2SdConfig = load("region: us-east-1").unwrap();
    assert_eq!((ec2.port, ec2.refresh_interval.0), (80, secs(60)));
    assert!(ec2.filters.is_empty() && ec2.endpoint.is_empty() && ec2.secret_key.is_empty());
    assert!(ec2.follow_redirects && ec2.enable_http2);

    let lightsail: LightsailSdConfig = load("region: us-east-1").unwrap();
    assert_eq!(
        (lightsail.port, lightsail.refresh_interval.0),
        (80, secs(60))
    );

    let azure: AzureSdConfig = load(AZURE_OAUTH).unwrap();
    assert_eq!(azure.environment, "AzurePublicCloud");
    assert_eq!(azure.authentication_method, "OAuth");
    assert_eq!((azure.port, azure.refresh_interval.0), (80, secs(300)));

    let digitalocean: DigitaloceanSdConfig = load("{}").unwrap();
    assert_eq!(
        (digitalocean.port, digitalocean.refresh_interval.0),
        (80, secs(60))
    );
    let vultr: VultrSdConfig = load("{}").unwrap();
    assert_eq!((vultr.port, vultr.refresh_interval.0), (80, secs(60)));

    let linode: LinodeSdConfig = load("{}").unwrap();
    assert_eq!((linode.port, linode.refresh_interval.0), (80, secs(60)));
    assert_eq!(
        (linode.tag_separator.as_str(), linode.region.as_str()),
        (",", "")
    );

    let hetzner: HetznerSdConfig = load("role: hcloud").unwrap();
    assert_eq!((hetzner.port, hetzner.refresh_interval.0), (80, secs(60)));
    assert_eq!(hetzner.label_selector, "");

    let scaleway: ScalewaySdConfig = load(SCALEWAY).unwrap();
    assert_eq!(scaleway.zone, "fr-par-1");
    assert_eq!(scaleway.api_url, "https://api.scaleway.com");
    assert_eq!((scaleway.port, scaleway.refresh_interval.0), (80, secs(60)));

    let ionos: IonosSdConfig = load("datacenter_id: abc").unwrap();
    assert_eq!((ionos.port, ionos.refresh_interval.0), (80, secs(60)));

    let ovhcloud: OvhcloudSdConfig = load(OVHCLOUD).unwrap();
    assert_eq!(ovhcloud.endpoint, "ovh-eu");
    assert_eq!(ovhcloud.refresh_interval.0, secs(60));

    let stackit: StackitSdConfig = load("project: p").unwrap();
    assert_eq!(stackit.region, "eu01");
    assert_eq!((stackit.port, stackit.refresh_interval.0), (80, secs(60)));

    // The endpoint follows the region, written or defaulted.
    let outscale: OutscaleSdConfig = load(OUTSCALE).unwrap();
    assert_eq!(outscale.region, "eu-west-2");
    assert_eq!(
        outscale.endpoint,
        "https://api.eu-west-2.outscale.com/api/v1"
    );
    let outscale: OutscaleSdConfig =
        load(&format!("{OUTSCALE}region: cloudgouv-eu-west-1\n")).unwrap();
    assert_eq!(
        outscale.endpoint,
        "https://api.cloudgouv-eu-west-1.outscale.com/api/v1"
    );
    let outscale: OutscaleSdConfig = load(&format!(
        "{OUTSCALE}endpoint: https://outscale.internal/api/v1\n"
    ))
    .unwrap();
    assert_eq!(outscale.endpoint, "https://outscale.internal/api/v1");
    assert_eq!((outscale.port, outscale.refresh_interval.0), (80, secs(60)));
}

#[test]
fn empty_values_read_as_go_zero_values() {
    // `key:` with nothing after it is null, which Go's YAML library reads as
    // the zero value, replacing the default.
    let ec2: Ec2SdConfig =
        load("region: us-east-1\nport:\nrefresh_interval:\nfilters:\nendpoint:\n").unwrap();
    assert_eq!((ec2.port, ec2.refresh_interval.0), (0, Duration::ZERO));
    assert!(ec2.filters.is_empty());

    let linode: LinodeSdConfig = load("tag_separator:\nregion:\n").unwrap();
    assert_eq!(linode.tag_separator, "");

    let scaleway: ScalewaySdConfig =
        load(&format!("{SCALEWAY}tags_filter:\nname_filter:\n")).unwrap();
    assert!(scaleway.tags_filter.is_empty());

    // A null zone is an empty zone, which the Scaleway SDK refuses.
    let e = error::<ScalewaySdConfig>(&format!("{SCALEWAY}zone:\n"));
    assert!(e.contains("default zone cannot be empty"), "{e}");

    // A null authentication method is the empty one, which is unknown.
    let e = error::<AzureSdConfig>(&format!("{AZURE_OAUTH}authentication_method:\n"));
    assert!(e.contains(r#"unknown authentication_type """#), "{e}");

    // A null region is refused where it has no other source.
    let e = error::<OutscaleSdConfig>(&format!("{OUTSCALE}region:\n"));
    assert!(
        e.contains("outscale SD configuration requires a region"),
        "{e}"
    );
    let e = error::<StackitSdConfig>("region:\n");
    assert_eq!(e, "endpoint or region missing");

    // Filter entries read nulls the same way.
    let e = error::<Ec2SdConfig>("region: us-east-1\nfilters:\n  - name: tag:env\n    values:\n");
    assert_eq!(e, "EC2 SD configuration filter values cannot be empty");
}

/// Every text each config's validation can give, in Prometheus' order.
#[test]
fn every_validation_message() {
    fn case<T: DeserializeOwned + Validate + std::fmt::Debug>(yaml: &str, want: &str) {
        let got = error::<T>(yaml);
        assert!(got.contains(want), "{yaml:?}: wanted {want:?}, got {got:?}");
    }
    case::<Ec2SdConfig>(
        "region: us-east-1\nfilters:\n  - name: a\n    values: [x]\n  - name: b\n    values: []\n",
        "EC2 SD configuration filter values cannot be empty",
    );
    case::<Ec2SdConfig>(
        "region: us-east-1\nbearer_token: a\nbearer_token_file: b\n",
        "at most one of bearer_token & bearer_token_file must be configured",
    );
    case::<LightsailSdConfig>(
        "region: us-east-1\nbearer_token: a\nbearer_token_file: b\n",
        "at most one of bearer_token & bearer_token_file must be configured",
    );

    case::<AzureSdConfig>(
        "tenant_id: t\n",
        "azure SD configuration requires a subscription_id",
    );
    case::<AzureSdConfig>(
        "subscription_id: s\n",
        "azure SD configuration requires a tenant_id",
    );
    case::<AzureSdConfig>(
        "subscription_id: s\ntenant_id: t\n",
        "azure SD configuration requires a client_id",
    );
    case::<AzureSdConfig>(
        "subscription_id: s\ntenant_id: t\nclient_id: c\n",
        "azure SD configuration requires a client_secret",
    );
    case::<AzureSdConfig>(
        "subscription_id: s\nauthentication_method: Password\n",
        r#"unknown authentication_type "Password". Supported types are "OAuth", "ManagedIdentity", "SDK" or "WorkloadIdentity""#,
    );
    // Methods other than OAuth need no client credentials.
    for method in ["ManagedIdentity", "SDK", "WorkloadIdentity"] {
        load::<AzureSdConfig>(&format!(
            "subscription_id: s\nauthentication_method: {method}\n"
        ))
        .unwrap();
    }
    case::<AzureSdConfig>(
        &format!("{AZURE_OAUTH}bearer_token: t\nbasic_auth:\n  username: u\n"),
        "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured",
    );

    case::<HetznerSdConfig>("port: 9100\n", "role missing (one of: robot, hcloud)");
    case::<HetznerSdConfig>("role: cloud\n", r#"unknown role "cloud""#);
    case::<HetznerSdConfig>(
        "role: robot\nbasic_auth:\n  username: u\n  password: p\n  password_file: f\n",
        "at most one of basic_auth password",
    );

    case::<ScalewaySdConfig>(
        "project_id: p\n",
        "role missing (one of: instance, baremetal)",
    );
    case::<ScalewaySdConfig>("role: vm\n", r#"unknown role "vm""#);
    case::<ScalewaySdConfig>("role: baremetal\n", "project_id is mandatory");
    case::<ScalewaySdConfig>(
        "role: baremetal\nproject_id: p\n",
        "one of secret_key & secret_key_file must be configured",
    );
    case::<ScalewaySdConfig>(
        "role: baremetal\nproject_id: p\nsecret_key: s\nsecret_key_file: f\n",
        "at most one of secret_key & secret_key_file must be configured",
    );
    case::<ScalewaySdConfig>(
        "role: baremetal\nproject_id: p\nsecret_key: s\n",
        "access_key is mandatory",
    );
    let scaleway_with = |key: &str, value: &str| {
        SCALEWAY
            .lines()
            .filter(|line| !line.starts_with(&format!("{key}:")))
            .chain([format!("{key}: {value:?}").as_str()])
            .collect::<Vec<_>>()
            .join("\n")
    };
    case::<ScalewaySdConfig>(
        &scaleway_with("access_key", "scw-key"),
        "scaleway-sdk-go: invalid access key format 'scw-key', expected SCWXXXXXXXXXXXXXXXXX format",
    );
    case::<ScalewaySdConfig>(
        &scaleway_with("secret_key", "not-a-uuid"),
        "scaleway-sdk-go: invalid secret key format, expected a UUID",
    );
    case::<ScalewaySdConfig>(
        &scaleway_with("project_id", "my-project"),
        "scaleway-sdk-go: invalid project ID format 'my-project', expected a UUID",
    );
    case::<ScalewaySdConfig>(
        &scaleway_with("zone", "paris"),
        "scaleway-sdk-go: invalid default zone format 'paris', available zones are: fr-par-1",
    );
    case::<ScalewaySdConfig>(
        &scaleway_with("api_url", "https://api.scaleway.com/"),
        "scaleway-sdk-go: invalid API url 'https://api.scaleway.com/' it should not have a trailing slash",
    );
    case::<ScalewaySdConfig>(
        &scaleway_with("api_url", ":api"),
        "scaleway-sdk-go: invalid API url ':api'",
    );
    // A secret from a file is not checked for its form.
    load::<ScalewaySdConfig>(&SCALEWAY.replace(
        "secret_key: 11111111-1111-1111-1111-111111111111",
        "secret_key_file: key",
    ))
    .unwrap();

    case::<IonosSdConfig>("datacenter_id: \"\"\n", "datacenter id can't be empty");
    case::<IonosSdConfig>("port: 9100\n", "datacenter id can't be empty");

    case::<OvhcloudSdConfig>(
        &format!("{OVHCLOUD}endpoint: \"\"\n"),
        "endpoint can not be empty",
    );
    case::<OvhcloudSdConfig>("service: vps\n", "application key can not be empty");
    case::<OvhcloudSdConfig>(
        "service: vps\napplication_key: k\n",
        "application secret can not be empty",
    );
    case::<OvhcloudSdConfig>(
        "service: vps\napplication_key: k\napplication_secret: s\n",
        "consumer key can not be empty",
    );
    case::<OvhcloudSdConfig>(
        &OVHCLOUD.replace("service: vps", "service: cloud"),
        "unknown service: cloud",
    );
    case::<OvhcloudSdConfig>(&OVHCLOUD.replace("service: vps\n", ""), "unknown service: ");

    case::<StackitSdConfig>("region: \"\"\n", "endpoint or region missing");
    case::<StackitSdConfig>(
        "endpoint: \"://invalid\"\n",
        r#"invalid endpoint "://invalid": parse "://invalid": missing protocol scheme"#,
    );
    case::<StackitSdConfig>(
        "endpoint: \"https://stackit\\u0007.example\"\n",
        "invalid control character in URL",
    );

    case::<OutscaleSdConfig>(
        "region: \"\"\n",
        "outscale SD configuration requires a region",
    );
    case::<OutscaleSdConfig>(
        "secret_key: s\n",
        "outscale SD configuration requires access_key",
    );
    case::<OutscaleSdConfig>(
        "access_key: a\n",
        "one of secret_key & secret_key_file must be configured",
    );
    case::<OutscaleSdConfig>(
        &format!("{OUTSCALE}secret_key_file: f\n"),
        "at most one of secret_key & secret_key_file must be configured",
    );

    for (name, result) in [
        (
            "digitalocean",
            load::<DigitaloceanSdConfig>("bearer_token: a\nbearer_token_file: b\n").err(),
        ),
        (
            "vultr",
            load::<VultrSdConfig>("bearer_token: a\nbearer_token_file: b\n").err(),
        ),
        (
            "linode",
            load::<LinodeSdConfig>("bearer_token: a\nbearer_token_file: b\n").err(),
        ),
        (
            "ionos",
            load::<IonosSdConfig>("datacenter_id: d\nbearer_token: a\nbearer_token_file: b\n")
                .err(),
        ),
        (
            "outscale",
            load::<OutscaleSdConfig>(&format!(
                "{OUTSCALE}bearer_token: a\nbearer_token_file: b\n"
            ))
            .err(),
        ),
        (
            "stackit",
            load::<StackitSdConfig>("bearer_token: a\nbearer_token_file: b\n").err(),
        ),
    ] {
        let e =
            result.unwrap_or_else(|| panic!("{name}: the HTTP client settings were not checked"));
        assert!(
            e.contains("at most one of bearer_token & bearer_token_file"),
            "{name}: {e}"
        );
    }
}

#[test]
fn a_bearer_token_becomes_authorization_as_in_prometheus() {
    let mut config: DigitaloceanSdConfig = load("bearer_token: abc\n").unwrap();
    let auth = config
        .authorization
        .take()
        .expect("authorization from bearer_token");
    assert_eq!(auth.credentials.as_ref().map(|c| c.expose()), Some("abc"));
    assert!(config.bearer_token.is_empty());
}

#[test]
fn unknown_and_misspelt_fields_are_refused() {
    for (name, e) in [
        ("ec2", load::<Ec2SdConfig>("regoin: us-east-1\n").err()),
        (
            "ec2 filter",
            load::<Ec2SdConfig>("region: r\nfilters:\n  - nmae: x\n    values: [a]\n").err(),
        ),
        (
            "lightsail",
            load::<LightsailSdConfig>("region: r\nfilters: []\n").err(),
        ),
        (
            "azure",
            load::<AzureSdConfig>(&format!("{AZURE_OAUTH}resource_groups: [a]\n")).err(),
        ),
        (
            "digitalocean",
            load::<DigitaloceanSdConfig>("token: x\n").err(),
        ),
        (
            "hetzner",
            load::<HetznerSdConfig>("role: hcloud\ntoken: x\n").err(),
        ),
        (
            "linode",
            load::<LinodeSdConfig>("tags_separator: x\n").err(),
        ),
        ("vultr", load::<VultrSdConfig>("api_key: x\n").err()),
        (
            "scaleway",
            load::<ScalewaySdConfig>(&format!("{SCALEWAY}project: p\n")).err(),
        ),
        ("ionos", load::<IonosSdConfig>("datacenter: d\n").err()),
        (
            "ovhcloud",
            load::<OvhcloudSdConfig>(&format!("{OVHCLOUD}authorization:\n  credentials: x\n"))
                .err(),
        ),
        ("stackit", load::<StackitSdConfig>("project_id: p\n").err()),
        (
            "outscale",
            load::<OutscaleSdConfig>(&format!("{OUTSCALE}profile: p\n")).err(),
        ),
    ] {
        let e = e.unwrap_or_else(|| panic!("{name}: an unknown field was accepted"));
        assert!(e.contains("unknown field"), "{name}: {e}");
    }
}

#[test]
fn secrets_are_not_serialised_or_quoted() {
    fn shown<T: serde::Serialize>(config: &T) -> String {
        serde_saphyr::to_string(config).unwrap()
    }
    let ec2: Ec2SdConfig =
        load("region: r\naccess_key: AKIA\nsecret_key: ec2-secret-value\n").unwrap();
    let azure: AzureSdConfig =
        load(&AZURE_OAUTH.replace("mysecret", "azure-secret-value")).unwrap();
    let scaleway: ScalewaySdConfig = load(SCALEWAY).unwrap();
    let ovhcloud: OvhcloudSdConfig = load(
        &OVHCLOUD
            .replace("secret\n", "ovh-secret-value\n")
            .replace("consumer\n", "ovh-consumer-value\n"),
    )
    .unwrap();
    let stackit: StackitSdConfig =
        load("service_account_key: stackit-sa-value\nprivate_key: stackit-pk-value\n").unwrap();
    let outscale: OutscaleSdConfig =
        load(&OUTSCALE.replace("XXXXXXXX", "osc-secret-value")).unwrap();
    let texts = [
        shown(&ec2),
        shown(&azure),
        shown(&scaleway),
        shown(&ovhcloud),
        shown(&stackit),
        shown(&outscale),
        format!("{ec2:?}{azure:?}{scaleway:?}{ovhcloud:?}{stackit:?}{outscale:?}"),
    ];
    for text in &texts {
        for secret in [
            "ec2-secret-value",
            "azure-secret-value",
            "11111111-1111-1111-1111-111111111111",
            "ovh-secret-value",
            "ovh-consumer-value",
            "stackit-sa-value",
            "stackit-pk-value",
            "osc-secret-value",
        ] {
            assert!(!text.contains(secret), "{secret} shown in {text}");
        }
        assert!(text.contains("<secret>"), "{text}");
    }
    // The keys that are not secrets are shown.
    assert!(texts[0].contains("access_key: AKIA"), "{}", texts[0]);

    // A malformed Scaleway secret key is not quoted back in the error.
    let e = error::<ScalewaySdConfig>(&SCALEWAY.replace(
        "secret_key: 11111111-1111-1111-1111-111111111111",
        "secret_key: hunter2-not-a-uuid",
    ));
    assert!(!e.contains("hunter2"), "{e}");
    // Nor is a password in a STACKIT endpoint.
    let e = error::<StackitSdConfig>("endpoint: \"https://u:hunter2@stackit.example/\\u0007\"\n");
    assert!(
        !e.contains("hunter2") && e.contains("invalid control character"),
        "{e}"
    );
}

#[test]
fn hostile_input_is_refused_or_read_without_panicking() {
    // Huge values: read as they are, nothing is cut or copied quadratically.
    let long = "x".repeat(1 << 20);
    let hetzner: HetznerSdConfig =
        load(&format!("role: hcloud\nlabel_selector: {long}\n")).unwrap();
    assert_eq!(hetzner.label_selector.len(), 1 << 20);
    let e = error::<ScalewaySdConfig>(&SCALEWAY.replace(
        "secret_key: 11111111-1111-1111-1111-111111111111",
        &format!("secret_key: {long}"),
    ));
    assert!(
        e.contains("invalid secret key format"),
        "{}",
        &e[..e.len().min(200)]
    );

    // Many filters, the last one empty.
    let mut yaml = String::from("region: r\nfilters:\n");
    for i in 0..20_000 {
        yaml.push_str(&format!("  - name: tag:n{i}\n    values: [v]\n"));
    }
    yaml.push_str("  - name: last\n    values: []\n");
    assert_eq!(
        error::<Ec2SdConfig>(&yaml),
        "EC2 SD configuration filter values cannot be empty"
    );

    // Wrong shapes and types are errors, not panics.
    for yaml in [
        "port: eighty\n",
        "port: 1e400\n",
        "refresh_interval: 5 minutes\n",
        "refresh_interval: 999999999999y\n",
        "filters: {name: x}\n",
        "region: [a, b]\n",
        "secret_key: {nested: {deeper: [1, 2]}}\n",
        "[]\n",
        "\"just a string\"\n",
    ] {
        assert!(load::<Ec2SdConfig>(yaml).is_err(), "{yaml:?} accepted");
    }
    let deep = format!(
        "region: r\nendpoint: {}x{}\n",
        "[".repeat(5_000),
        "]".repeat(5_000)
    );
    assert!(load::<Ec2SdConfig>(&deep).is_err());

    // Non-ASCII where the Scaleway SDK expects ASCII patterns.
    for (key, value) in [
        ("access_key", "SCWÉXXXXXXXXXXXXXXX"),
        ("zone", "fr-paré1"),
        ("project_id", "é1111111-1111-1111-1111-11111111111é"),
    ] {
        let yaml = SCALEWAY
            .lines()
            .filter(|line| !line.starts_with(&format!("{key}:")))
            .chain([format!("{key}: {value}").as_str()])
            .collect::<Vec<_>>()
            .join("\n");
        let e = error::<ScalewaySdConfig>(&yaml);
        assert!(e.starts_with("scaleway-sdk-go: invalid"), "{key}: {e}");
    }
    // An empty API URL (which makes the Go SDK panic) is an error.
    let e = error::<ScalewaySdConfig>(&format!("{SCALEWAY}api_url: \"\"\n"));
    assert_eq!(e, "scaleway-sdk-go: invalid API url ''");
}

// ---- Prometheus' own fixtures and examples --------------------------------

fn corpus() -> PathBuf {
    std::env::var_os("WASMETHEUS_CONFORMANCE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance")
        })
        .join("config")
}

/// The scrape configs of a fixture, with only this file's mechanisms read
/// (everything else in the file is skipped).
#[derive(Deserialize)]
struct Fixture {
    #[serde(default)]
    scrape_configs: Option<Vec<Option<Job>>>,
}

#[derive(Deserialize, Default)]
struct Job {
    ec2_sd_configs: Option<Vec<Ec2SdConfig>>,
    lightsail_sd_configs: Option<Vec<LightsailSdConfig>>,
    azure_sd_configs: Option<Vec<AzureSdConfig>>,
    digitalocean_sd_configs: Option<Vec<DigitaloceanSdConfig>>,
    hetzner_sd_configs: Option<Vec<HetznerSdConfig>>,
    linode_sd_configs: Option<Vec<LinodeSdConfig>>,
    vultr_sd_configs: Option<Vec<VultrSdConfig>>,
    scaleway_sd_configs: Option<Vec<ScalewaySdConfig>>,
    ionos_sd_configs: Option<Vec<IonosSdConfig>>,
    ovhcloud_sd_configs: Option<Vec<OvhcloudSdConfig>>,
    stackit_sd_configs: Option<Vec<StackitSdConfig>>,
    outscale_sd_configs: Option<Vec<OutscaleSdConfig>>,
}

const KEYS: [&str; 12] = [
    "ec2_sd_configs",
    "lightsail_sd_configs",
    "azure_sd_configs",
    "digitalocean_sd_configs",
    "hetzner_sd_configs",
    "linode_sd_configs",
    "vultr_sd_configs",
    "scaleway_sd_configs",
    "ionos_sd_configs",
    "ovhcloud_sd_configs",
    "stackit_sd_configs",
    "outscale_sd_configs",
];

/// Reads and validates every config of these mechanisms in the file; the
/// number of configs, or the first error.
fn load_fixture(text: &str) -> Result<usize, String> {
    fn each<T: Validate>(list: &mut Option<Vec<T>>, count: &mut usize) -> Result<(), String> {
        for config in list.iter_mut().flatten() {
            config.check()?;
            *count += 1;
        }
        Ok(())
    }
    let fixture: Fixture = serde_saphyr::from_str(text).map_err(|e| e.to_string())?;
    let mut count = 0;
    for mut job in fixture.scrape_configs.into_iter().flatten().flatten() {
        each(&mut job.ec2_sd_configs, &mut count)?;
        each(&mut job.lightsail_sd_configs, &mut count)?;
        each(&mut job.azure_sd_configs, &mut count)?;
        each(&mut job.digitalocean_sd_configs, &mut count)?;
        each(&mut job.hetzner_sd_configs, &mut count)?;
        each(&mut job.linode_sd_configs, &mut count)?;
        each(&mut job.vultr_sd_configs, &mut count)?;
        each(&mut job.scaleway_sd_configs, &mut count)?;
        each(&mut job.ionos_sd_configs, &mut count)?;
        each(&mut job.ovhcloud_sd_configs, &mut count)?;
        each(&mut job.stackit_sd_configs, &mut count)?;
        each(&mut job.outscale_sd_configs, &mut count)?;
    }
    Ok(count)
}

fn uses_these_mechanisms(text: &str) -> bool {
    KEYS.iter().any(|key| text.contains(key))
}

#[test]
fn prometheus_bad_fixtures_fail_with_upstreams_text() {
    let dir = corpus();
    let table = std::fs::read_to_string(dir.join("expected_errors.tsv"))
        .unwrap_or_else(|e| panic!("{}: {e} (set WASMETHEUS_CONFORMANCE)", dir.display()));
    let mut checked = 0;
    let mut failures = Vec::new();
    for line in table.lines().filter(|l| !l.trim().is_empty()) {
        let Some((file, want)) = line.split_once('\t') else {
            continue;
        };
        let Ok(text) = std::fs::read_to_string(dir.join("testdata").join(file)) else {
            continue;
        };
        if !uses_these_mechanisms(&text) {
            continue;
        }
        let want = want.replace("\\\"", "\"");
        checked += 1;
        match load_fixture(&text) {
            Ok(_) => failures.push(format!("{file}: accepted, upstream says {want:?}")),
            Err(e) if !e.contains(&want) => {
                failures.push(format!("{file}: {e:?} does not contain {want:?}"))
            }
            Err(_) => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // ec2 ×2, lightsail, azure ×6, hetzner, scaleway ×3, outscale ×3,
    // ionos, ovhcloud ×2, stackit.
    assert!(
        checked >= 20,
        "only {checked} fixtures use these mechanisms"
    );
}

#[test]
fn prometheus_good_fixtures_and_examples_load() {
    let dir = corpus();
    let mut files = Vec::new();
    for sub in ["testdata", "examples"] {
        let entries = std::fs::read_dir(dir.join(sub))
            .unwrap_or_else(|e| panic!("{}: {e} (set WASMETHEUS_CONFORMANCE)", dir.display()));
        for entry in entries.flatten() {
            let path = entry.path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let good = if sub == "testdata" {
                name.ends_with(".good.yml")
            } else {
                name.ends_with(".yml")
            };
            if good {
                files.push(path);
            }
        }
    }
    let mut loaded = 0;
    let mut failures = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        if !uses_these_mechanisms(&text) {
            continue;
        }
        match load_fixture(&text) {
            Ok(n) => loaded += n,
            Err(e) => failures.push(format!("{}: {e}", path.display())),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // conf.good.yml alone has 16 configs of these mechanisms; the examples
    // have a dozen more.
    assert!(
        loaded >= 28,
        "only {loaded} configs of these mechanisms loaded"
    );
}

#[test]
fn nested_tls_and_oauth2_blocks_are_checked_before_the_configs_own_checks() {
    const TLS: &str = "tls_config: {cert_file: c}\n";
    const TLS_TEXT: &str = "exactly one of key or key_file must be configured";
    const OAUTH2: &str = "oauth2: {token_url: \"http://t\"}\n";
    const OAUTH2_TEXT: &str = "oauth2 client_id must be configured";
    for (name, e) in [
        (
            "ec2",
            load::<Ec2SdConfig>(&format!("region: r\nfilters: [{{name: n}}]\n{TLS}")).err(),
        ),
        ("azure", load::<AzureSdConfig>(TLS).err()),
        ("hetzner", load::<HetznerSdConfig>(TLS).err()),
        (
            "scaleway",
            load::<ScalewaySdConfig>(&format!("role: instance\n{TLS}")).err(),
        ),
        ("ionos", load::<IonosSdConfig>(TLS).err()),
        (
            "stackit",
            load::<StackitSdConfig>(&format!("endpoint: \"://x\"\n{TLS}")).err(),
        ),
        (
            "outscale",
            load::<OutscaleSdConfig>(&format!("region: \"\"\n{TLS}")).err(),
        ),
    ] {
        let e = e.unwrap_or_else(|| panic!("{name}: accepted"));
        assert!(e.contains(TLS_TEXT), "{name}: {e}");
    }
    for (name, e) in [
        ("azure", load::<AzureSdConfig>(OAUTH2).err()),
        ("ionos", load::<IonosSdConfig>(OAUTH2).err()),
        (
            "lightsail",
            load::<LightsailSdConfig>(&format!("region: r\n{OAUTH2}")).err(),
        ),
        ("digitalocean", load::<DigitaloceanSdConfig>(OAUTH2).err()),
    ] {
        let e = e.unwrap_or_else(|| panic!("{name}: accepted"));
        assert!(e.contains(OAUTH2_TEXT), "{name}: {e}");
    }
    // A role is checked as it is read, before the blocks after it.
    let e = error::<HetznerSdConfig>(&format!("role: cloud\n{TLS}"));
    assert_eq!(e, r#"unknown role "cloud""#);
    let e = error::<ScalewaySdConfig>(&format!("role: vm\n{TLS}"));
    assert_eq!(e, r#"unknown role "vm""#);
}
