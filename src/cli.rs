//! The `marquee` command line: `serve`, `migrate`, `seed --demo`, `bench`.

use std::{path::PathBuf, process::ExitCode, sync::Arc};

use clap::{Args, Parser, Subcommand};

use crate::{
    app::{App, shutdown_signal},
    bench::{self, BenchArgs},
    clock::{Clock, SystemClock},
    config::Config,
    db::Db,
    seed, telemetry,
};

#[derive(Debug, Parser)]
#[command(name = "marquee", version, about = "Movie-ticket booking platform")]
pub struct Cli {
    /// Configuration file (TOML). Default: ./marquee.toml if present.
    #[arg(long, global = true, env = "MARQUEE_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Migrate the database and serve the API.
    Serve(ServeArgs),
    /// Apply database migrations and exit.
    Migrate,
    /// Load data into the database.
    Seed(SeedArgs),
    /// Drive a running server over HTTP and print throughput and latency.
    Bench(BenchArgs),
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Load the demo data (idempotent) before serving.
    #[arg(long)]
    demo: bool,
}

#[derive(Debug, Args)]
struct SeedArgs {
    /// The demo data set: cities, movies, theatres, a week of shows, demo accounts.
    #[arg(long, required = true)]
    demo: bool,
}

pub async fn run() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Bench(args) = cli.command {
        return match bench::run(args).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("bench failed: {error:#}");
                ExitCode::FAILURE
            }
        };
    }
    let config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(&config.log);
    match execute(cli.command, config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = %format!("{error:#}"), "marquee failed");
            ExitCode::FAILURE
        }
    }
}

async fn execute(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Serve(args) => {
            let app = App::build(config).await?;
            if args.demo {
                let report = seed::seed_demo(&app.state().db, SystemClock.now()).await?;
                tracing::info!(?report, "demo data loaded");
            }
            app.run_until(shutdown_signal()).await?;
        }
        Command::Migrate => {
            let db = Db::connect(&config).await?;
            db.migrate().await?;
            tracing::info!(database = db.engine().name(), "migrations applied");
            db.close().await;
        }
        Command::Seed(_) => {
            let db = Db::connect(&config).await?;
            db.migrate().await?;
            let report = seed::seed_demo(&db, Arc::new(SystemClock).now()).await?;
            tracing::info!(?report, "demo data loaded");
            db.close().await;
        }
        Command::Bench(_) => unreachable!("handled before configuration is loaded"),
    }
    Ok(())
}
