//! The `envctl` binary: guards the AWS credential chain, installs the TLS
//! crypto provider, runs the CLI, and turns the outcome into an exit code
//! (0 success, 1 the run failed, 2 bad input).

fn main() -> std::process::ExitCode {
    // The SDK's last resort for credentials and region is the EC2 metadata
    // address. envctl never asks it unless told to (ENVCTL_USE_IMDS=true, on
    // an EC2 host with an instance role): an accidental probe from a laptop
    // or CI must be impossible.
    if std::env::var("ENVCTL_USE_IMDS").as_deref() != Ok("true") {
        // SAFETY: first statement of main, before any thread exists.
        unsafe { std::env::set_var("AWS_EC2_METADATA_DISABLED", "true") };
    }
    // kube and the AWS SDK may pull in two rustls back ends; pick one
    // explicitly so neither panics at first use.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    envctl::cli::main()
}
