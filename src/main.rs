use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    marquee::cli::run().await
}
