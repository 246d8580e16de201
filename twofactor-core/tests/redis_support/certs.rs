//! Test certificates, made with the `openssl` command-line tool in a temporary directory: a CA,
//! server certificates it signs, and an unrelated CA. Outside CI a test skips, saying why, when
//! `openssl` is missing; under `CI=true` it fails (`.ci/run` installs it).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::{installed, temp_dir};

/// A server's certificate and key, and the CA that signed it (good for client authentication
/// too: cluster nodes present it to each other on the TLS cluster bus).
#[derive(Debug, Clone)]
pub struct ServerCert {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ca: PathBuf,
}

impl ServerCert {
    /// `redis-server` arguments serving this certificate (clients need no certificate).
    pub fn server_args(&self) -> Vec<String> {
        let path = |p: &Path| p.display().to_string();
        vec![
            "--tls-cert-file".into(),
            path(&self.cert),
            "--tls-key-file".into(),
            path(&self.key),
            "--tls-ca-cert-file".into(),
            path(&self.ca),
            "--tls-auth-clients".into(),
            "no".into(),
        ]
    }
}

/// Everything the TLS tests need; the directory is removed on drop.
#[derive(Debug)]
pub struct Certs {
    dir: PathBuf,
    /// The CA that signed the server certificates.
    pub ca: PathBuf,
    /// A CA that signed nothing here.
    pub other_ca: PathBuf,
    /// For `localhost` and `127.0.0.1`.
    pub good: ServerCert,
    /// For `redis.other.test` only.
    pub wrong_name: ServerCert,
}

impl Drop for Certs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A self-signed CA named `name` (P-256 keys: quick to make).
fn ca(dir: &Path, name: &str) -> PathBuf {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.crt"),
            "-days",
            "2",
            "-subj",
            &format!("/CN=twofactor test {name}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
    dir.join(format!("{name}.crt"))
}

/// A server certificate `name` for `alt_names` (an `openssl` subjectAltName list), signed by
/// the CA `ca`.
fn server(dir: &Path, ca: &str, name: &str, alt_names: &str) -> ServerCert {
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.csr"),
            "-subj",
            &format!("/CN={name}"),
        ],
    );
    let ext = dir.join(format!("{name}.ext"));
    std::fs::write(
        &ext,
        format!(
            "subjectAltName={alt_names}\nbasicConstraints=CA:FALSE\n\
             keyUsage=digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\n"
        ),
    )
    .expect("write the extensions");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            &format!("{ca}.crt"),
            "-CAkey",
            &format!("{ca}.key"),
            "-CAcreateserial",
            "-out",
            &format!("{name}.crt"),
            "-days",
            "2",
            "-extfile",
            &format!("{name}.ext"),
        ],
    );
    ServerCert {
        cert: dir.join(format!("{name}.crt")),
        key: dir.join(format!("{name}.key")),
        ca: dir.join(format!("{ca}.crt")),
    }
}

impl Certs {
    /// Makes them, or skips when `openssl` is missing.
    pub fn generate() -> Option<Self> {
        installed("openssl")?;
        let dir = temp_dir("certs");
        let ca_path = ca(&dir, "ca");
        let other_ca = ca(&dir, "other-ca");
        let good = server(&dir, "ca", "server", "DNS:localhost,IP:127.0.0.1");
        let wrong_name = server(&dir, "ca", "wrong-name", "DNS:redis.other.test");
        Some(Self {
            dir,
            ca: ca_path,
            other_ca,
            good,
            wrong_name,
        })
    }

    /// The directory holding them all.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The CA's PEM.
    pub fn ca_pem(&self) -> Vec<u8> {
        std::fs::read(&self.ca).expect("read the CA")
    }
}
