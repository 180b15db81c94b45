//! Where an installation's files are. Two layouts: a source checkout, where every path is
//! relative to the directory the server starts in (`scripts/run.sh` and `cargo leptos` start it
//! at the top of the checkout), and the Debian package, which puts the binary at
//! [`INSTALLED_BINARY`] and everything else where Debian's file hierarchy says. The binary is
//! the same in both, so it tells them apart by where it runs from.

use std::path::{Path, PathBuf};

/// Where the Debian package installs the binary.
pub const INSTALLED_BINARY: &str = "/usr/bin/dossier";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// The settings file read when neither `--config` nor `DOSSIER_CONFIG` names one.
    pub config: Option<PathBuf>,
    /// `FACE_MODELS_DIR` when the settings do not set it.
    pub face_models_dir: PathBuf,
    /// `FACE_INDEX_DIR` when the settings do not set it: somewhere the server may write.
    pub face_index_dir: PathBuf,
    /// `IMPORT_DIR` when the settings do not set it: where uploaded imports wait.
    pub import_dir: PathBuf,
    /// The built site (pages' scripts, styles, WASM) when `LEPTOS_SITE_ROOT` does not say.
    pub site_root: PathBuf,
}

impl Layout {
    /// A source checkout: the paths `scripts/install-tools.sh` and `cargo leptos build` fill.
    pub fn checkout() -> Self {
        Self {
            config: None,
            face_models_dir: "data/face-models".into(),
            face_index_dir: "data/face-index".into(),
            import_dir: "data/imports".into(),
            site_root: "target/site".into(),
        }
    }

    /// The Debian package: settings in `/etc`, read-only data in `/usr/share`, what the server
    /// writes in its state directory (the only place its systemd unit lets it write).
    pub fn installed() -> Self {
        Self {
            config: Some("/etc/dossier/dossier.toml".into()),
            face_models_dir: "/usr/share/dossier/face-models".into(),
            face_index_dir: "/var/lib/dossier/face-index".into(),
            import_dir: "/var/lib/dossier/imports".into(),
            site_root: "/usr/share/dossier/site".into(),
        }
    }

    /// The layout of the running binary.
    pub fn of_this_binary() -> Self {
        let exe = std::env::current_exe().ok();
        Self::for_binary(exe.as_deref())
    }

    fn for_binary(exe: Option<&Path>) -> Self {
        if exe == Some(Path::new(INSTALLED_BINARY)) {
            Self::installed()
        } else {
            Self::checkout()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_package_binary_uses_the_installed_layout_and_any_other_the_checkout() {
        let installed = Layout::for_binary(Some(Path::new("/usr/bin/dossier")));
        assert_eq!(
            installed.config.as_deref(),
            Some(Path::new("/etc/dossier/dossier.toml"))
        );
        assert_eq!(
            Layout::for_binary(Some(Path::new("/work/target/release/dossier"))),
            Layout::checkout()
        );
        assert_eq!(Layout::for_binary(None), Layout::checkout());
    }
}
