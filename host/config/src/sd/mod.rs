//! Service discovery configs: every `<name>_sd_configs` list of Prometheus
//! 3.14 beyond `static_configs`, `file_sd_configs`, `http_sd_configs` and
//! `dns_sd_configs` (those four run today and live in `crate::scrape`).
//! One file per mechanism, each with a `<Name>SdConfig` type read as
//! Prometheus reads it (Go YAML names, defaults, nulls as zero values,
//! secrets as [`crate::Secret`]) and a `validate(&mut self)` with
//! Prometheus' `UnmarshalYAML` checks and texts.
//!
//! # Adding the lists to a struct
//!
//! [`with_service_discovery!`] appends one
//! `pub <name>_sd_configs: Vec<<Name>SdConfig>` field per mechanism to a
//! struct definition (missing or null: empty; empty lists are not
//! serialised) and implements on it:
//!
//! - `validate_service_discovery(&mut self) -> Result<(), String>`: every
//!   config's `validate()`, in the order of the mechanism table, stopping at
//!   the first error (Prometheus' text, unprefixed: the caller adds the
//!   position);
//! - `service_discoveries(&self) -> Vec<(&'static str, usize)>`: the
//!   mechanisms in use, as Prometheus names them (`"consul"`, `"kubernetes"`,
//!   …), with their number of configs, for reporting what is discovered and
//!   what is not running yet.
//!
//! ```text
//! crate::sd::with_service_discovery! {
//!     #[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
//!     #[serde(deny_unknown_fields)]
//!     pub struct AlertmanagerConfig {
//!         pub path_prefix: String,
//!     }
//! }
//! ```
//!
//! With the inlined HTTP client settings as well (scrape and Alertmanager
//! configs have both), let [`crate::http_client::with_http_client!`] pass
//! its result on:
//!
//! ```text
//! crate::http_client::with_http_client! {
//!     @then crate::sd::with_service_discovery;
//!     #[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
//!     #[serde(deny_unknown_fields)]
//!     pub struct ScrapeConfig {
//!         pub job_name: String,
//!     }
//! }
//! ```
//!
//! Fields must be plain `name: Type` fields (attributes and doc comments
//! are fine). The table of mechanisms is [`mechanisms!`]: a new mechanism is
//! one line there and one file here.

use std::path::Path;

use crate::http_client::join_dir;

pub mod aws;
pub mod azure;
pub mod consul;
pub mod digitalocean;
pub mod docker;
pub mod dockerswarm;
pub mod ec2;
pub mod eureka;
pub mod gce;
pub mod hetzner;
pub mod ionos;
pub mod kubernetes;
pub mod kuma;
pub mod lightsail;
pub mod linode;
pub mod marathon;
pub mod nerve;
pub mod nomad;
pub mod oci;
pub mod openstack;
pub mod outscale;
pub mod ovhcloud;
pub mod puppetdb;
pub mod scaleway;
pub mod serverset;
pub mod stackit;
pub mod triton;
pub mod uyuni;
pub mod vultr;

/// The mechanisms: Prometheus' name, the YAML key, the config type. Calls
/// `$callback! { $args ; name: field: Type, … }`.
macro_rules! mechanisms {
    ($($callback:ident)::+ ; $($args:tt)*) => {
        $($callback)::+ ! {
            $($args)* ;
            aws: aws_sd_configs: $crate::sd::aws::AwsSdConfig,
            azure: azure_sd_configs: $crate::sd::azure::AzureSdConfig,
            consul: consul_sd_configs: $crate::sd::consul::ConsulSdConfig,
            digitalocean: digitalocean_sd_configs: $crate::sd::digitalocean::DigitaloceanSdConfig,
            docker: docker_sd_configs: $crate::sd::docker::DockerSdConfig,
            dockerswarm: dockerswarm_sd_configs: $crate::sd::dockerswarm::DockerswarmSdConfig,
            ec2: ec2_sd_configs: $crate::sd::ec2::Ec2SdConfig,
            eureka: eureka_sd_configs: $crate::sd::eureka::EurekaSdConfig,
            gce: gce_sd_configs: $crate::sd::gce::GceSdConfig,
            hetzner: hetzner_sd_configs: $crate::sd::hetzner::HetznerSdConfig,
            ionos: ionos_sd_configs: $crate::sd::ionos::IonosSdConfig,
            kubernetes: kubernetes_sd_configs: $crate::sd::kubernetes::KubernetesSdConfig,
            kuma: kuma_sd_configs: $crate::sd::kuma::KumaSdConfig,
            lightsail: lightsail_sd_configs: $crate::sd::lightsail::LightsailSdConfig,
            linode: linode_sd_configs: $crate::sd::linode::LinodeSdConfig,
            marathon: marathon_sd_configs: $crate::sd::marathon::MarathonSdConfig,
            nerve: nerve_sd_configs: $crate::sd::nerve::NerveSdConfig,
            nomad: nomad_sd_configs: $crate::sd::nomad::NomadSdConfig,
            oci: oci_sd_configs: $crate::sd::oci::OciSdConfig,
            openstack: openstack_sd_configs: $crate::sd::openstack::OpenstackSdConfig,
            outscale: outscale_sd_configs: $crate::sd::outscale::OutscaleSdConfig,
            ovhcloud: ovhcloud_sd_configs: $crate::sd::ovhcloud::OvhcloudSdConfig,
            puppetdb: puppetdb_sd_configs: $crate::sd::puppetdb::PuppetdbSdConfig,
            scaleway: scaleway_sd_configs: $crate::sd::scaleway::ScalewaySdConfig,
            serverset: serverset_sd_configs: $crate::sd::serverset::ServersetSdConfig,
            stackit: stackit_sd_configs: $crate::sd::stackit::StackitSdConfig,
            triton: triton_sd_configs: $crate::sd::triton::TritonSdConfig,
            uyuni: uyuni_sd_configs: $crate::sd::uyuni::UyuniSdConfig,
            vultr: vultr_sd_configs: $crate::sd::vultr::VultrSdConfig,
        }
    };
}
pub(crate) use mechanisms;

/// Appends every `<name>_sd_configs` list to a struct definition and
/// implements `validate_service_discovery` and `service_discoveries` (see
/// the module documentation).
macro_rules! with_service_discovery {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $( $(#[$fmeta:meta])* $fvis:vis $field:ident : $ty:ty ),* $(,)?
        }
    ) => {
        $crate::sd::mechanisms! {
            $crate::sd::service_discovery_struct;
            [$(#[$meta])*] $vis $name { $( $(#[$fmeta])* $fvis $field : $ty, )* }
        }
    };
}
pub(crate) use with_service_discovery;

/// [`with_service_discovery!`]'s work, given the mechanism table.
macro_rules! service_discovery_struct {
    (
        [$($meta:tt)*] $vis:vis $name:ident { $($fields:tt)* } ;
        $( $key:ident : $list:ident : $sd:ty ),* $(,)?
    ) => {
        $($meta)*
        $vis struct $name {
            $($fields)*
            $(
                #[serde(
                    default,
                    deserialize_with = "crate::go_yaml::null_as_default",
                    skip_serializing_if = "Vec::is_empty"
                )]
                pub $list: Vec<$sd>,
            )*
        }

        impl $name {
            /// Checks every service discovery config as Prometheus does when
            /// it reads them; the first error, in Prometheus' words.
            #[allow(dead_code)]
            pub fn validate_service_discovery(&mut self) -> Result<(), String> {
                $(
                    for config in &mut self.$list {
                        config.validate()?;
                    }
                )*
                Ok(())
            }

            /// Joins the relative file paths of every service discovery
            /// config with `dir`, the directory of the file they were read
            /// from, as Prometheus' `SetDirectory` does.
            #[allow(dead_code)]
            pub fn set_service_discovery_directory(&mut self, dir: &std::path::Path) {
                $(
                    for config in &mut self.$list {
                        $crate::sd::SetDirectory::set_directory(config, dir);
                    }
                )*
            }

            /// The service discovery mechanisms in use (Prometheus' names)
            /// with their number of configs.
            #[allow(dead_code)]
            pub fn service_discoveries(&self) -> Vec<(&'static str, usize)> {
                let mut used = Vec::new();
                $(
                    if !self.$list.is_empty() {
                        used.push((stringify!($key), self.$list.len()));
                    }
                )*
                used
            }
        }
    };
}
pub(crate) use service_discovery_struct;

/// Prometheus' `DirectorySetter`: relative file paths in a discovery
/// config are joined with the directory of the file it was read from.
pub trait SetDirectory {
    fn set_directory(&mut self, dir: &Path);
}

/// Mechanisms whose only files are those of their HTTP client settings.
macro_rules! http_files_only {
    ($($t:ty),* $(,)?) => {
        $(impl SetDirectory for $t {
            fn set_directory(&mut self, dir: &Path) {
                self.set_http_directory(dir);
            }
        })*
    };
}
http_files_only!(
    aws::AwsSdConfig,
    azure::AzureSdConfig,
    consul::ConsulSdConfig,
    digitalocean::DigitaloceanSdConfig,
    docker::DockerSdConfig,
    dockerswarm::DockerswarmSdConfig,
    ec2::Ec2SdConfig,
    eureka::EurekaSdConfig,
    hetzner::HetznerSdConfig,
    ionos::IonosSdConfig,
    kuma::KumaSdConfig,
    lightsail::LightsailSdConfig,
    linode::LinodeSdConfig,
    nomad::NomadSdConfig,
    puppetdb::PuppetdbSdConfig,
    stackit::StackitSdConfig,
    uyuni::UyuniSdConfig,
    vultr::VultrSdConfig,
);

/// Mechanisms without files.
macro_rules! no_files {
    ($($t:ty),* $(,)?) => {
        $(impl SetDirectory for $t {
            fn set_directory(&mut self, _dir: &Path) {}
        })*
    };
}
no_files!(
    gce::GceSdConfig,
    nerve::NerveSdConfig,
    ovhcloud::OvhcloudSdConfig,
    serverset::ServersetSdConfig,
);

impl SetDirectory for kubernetes::KubernetesSdConfig {
    fn set_directory(&mut self, dir: &Path) {
        self.kubeconfig_file = join_dir(dir, &self.kubeconfig_file);
        self.set_http_directory(dir);
    }
}

impl SetDirectory for marathon::MarathonSdConfig {
    fn set_directory(&mut self, dir: &Path) {
        self.auth_token_file = join_dir(dir, &self.auth_token_file);
        self.set_http_directory(dir);
    }
}

impl SetDirectory for oci::OciSdConfig {
    fn set_directory(&mut self, dir: &Path) {
        self.key_file = join_dir(dir, &self.key_file);
        self.key_passphrase_file = join_dir(dir, &self.key_passphrase_file);
        self.set_http_directory(dir);
    }
}

impl SetDirectory for outscale::OutscaleSdConfig {
    fn set_directory(&mut self, dir: &Path) {
        self.secret_key_file = join_dir(dir, &self.secret_key_file);
        self.set_http_directory(dir);
    }
}

impl SetDirectory for scaleway::ScalewaySdConfig {
    fn set_directory(&mut self, dir: &Path) {
        self.secret_key_file = join_dir(dir, &self.secret_key_file);
        self.set_http_directory(dir);
    }
}

impl SetDirectory for openstack::OpenstackSdConfig {
    fn set_directory(&mut self, dir: &Path) {
        if let Some(tls) = &mut self.tls_config {
            tls.set_directory(dir);
        }
    }
}

impl SetDirectory for triton::TritonSdConfig {
    fn set_directory(&mut self, dir: &Path) {
        if let Some(tls) = &mut self.tls_config {
            tls.set_directory(dir);
        }
    }
}

pub(crate) use crate::http_client::parse_go_url;

/// A duration default for `#[serde(default = …)]`.
pub(crate) fn seconds(n: u64) -> crate::PromDuration {
    crate::PromDuration(std::time::Duration::from_secs(n))
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    crate::http_client::with_http_client! {
        @then crate::sd::with_service_discovery;
        #[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
        #[serde(deny_unknown_fields)]
        struct Both {
            #[serde(default)]
            name: String,
        }
    }

    crate::sd::with_service_discovery! {
        #[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
        #[serde(deny_unknown_fields)]
        struct OnlyDiscovery {
            name: String
        }
    }

    #[test]
    fn lists_default_to_empty_and_read_null_as_empty() {
        let both: Both = serde_saphyr::from_str("name: x\nconsul_sd_configs:\n").unwrap();
        assert!(both.consul_sd_configs.is_empty());
        assert!(both.service_discoveries().is_empty());
        assert!(both.follow_redirects);
        let only: OnlyDiscovery = serde_saphyr::from_str("name: x\n").unwrap();
        assert!(only.kubernetes_sd_configs.is_empty());
    }

    #[test]
    fn every_mechanism_key_is_a_field() {
        macro_rules! check {
            (; $( $key:ident : $list:ident : $sd:ty ),* $(,)?) => {
                $(
                    assert_eq!(stringify!($list), format!("{}_sd_configs", stringify!($key)));
                )*
            };
        }
        crate::sd::mechanisms! { check; }
    }

    #[test]
    fn relative_files_of_every_list_join_the_config_directory() {
        let mut both: Both = serde_saphyr::from_str(
            "tls_config: {ca_file: ca}\n\
             marathon_sd_configs: [{servers: [m], auth_token_file: t, tls_config: {ca_file: mca}}]\n\
             oci_sd_configs: [{region: r, key_file: k, key_passphrase_file: p}]\n\
             triton_sd_configs: [{account: a, dns_suffix: d, endpoint: e, tls_config: {ca_file: tca}}]\n\
             consul_sd_configs: [{basic_auth: {username: u, password_file: pw}}]\n",
        )
        .unwrap();
        let dir = std::path::Path::new("/etc/p");
        both.set_http_directory(dir);
        both.set_service_discovery_directory(dir);
        let ca = |tls: &Option<crate::http_client::TlsConfig>| {
            tls.as_ref().unwrap().ca_file.clone().unwrap()
        };
        assert_eq!(ca(&both.tls_config), "/etc/p/ca");
        let marathon = &both.marathon_sd_configs[0];
        assert_eq!(marathon.auth_token_file, "/etc/p/t");
        assert_eq!(ca(&marathon.tls_config), "/etc/p/mca");
        assert_eq!(both.oci_sd_configs[0].key_file, "/etc/p/k");
        assert_eq!(both.oci_sd_configs[0].key_passphrase_file, "/etc/p/p");
        assert_eq!(ca(&both.triton_sd_configs[0].tls_config), "/etc/p/tca");
        let basic = both.consul_sd_configs[0].basic_auth.as_ref().unwrap();
        assert_eq!(basic.password_file.as_deref(), Some("/etc/p/pw"));
    }

    #[test]
    fn unknown_lists_are_refused() {
        assert!(serde_saphyr::from_str::<Both>("consult_sd_configs: []\n").is_err());
    }
}
