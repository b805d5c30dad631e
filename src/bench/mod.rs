//! `marquee bench`: drives a running server over HTTP.

use clap::Args;

#[derive(Debug, Args)]
pub struct BenchArgs {}

pub async fn run(_args: BenchArgs) -> anyhow::Result<()> {
    Ok(())
}
