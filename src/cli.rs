//! The `marquee` command line: `serve`, `migrate`, `seed --demo`, `relay`, `bench`.

use std::{path::PathBuf, process::ExitCode, sync::Arc};

use clap::{Args, Parser, Subcommand};

use crate::{
    app::{App, shutdown_signal},
    bench::{self, BenchArgs},
    clock::{Clock, SystemClock},
    config::Config,
    db::Db,
    identity, integration, seed, telemetry,
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
    /// Publish the outbox to NATS JetStream (needs nats_url) until Ctrl-C or SIGTERM.
    Relay,
    /// Drive a running server over HTTP and print throughput and latency.
    Bench(BenchArgs),
    /// Administer the platform from the command line.
    #[command(subcommand)]
    Admin(AdminCommand),
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Create an administrator account. The password is read from MARQUEE_ADMIN_PASSWORD,
    /// or else from the first line of standard input (never from the command line, where
    /// it would show in process lists and shell history).
    Create {
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "Administrator")]
        name: String,
    },
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
            crate::http::server::raise_open_file_limit(config.http.max_connections);
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
        Command::Relay => {
            // Refuse before touching the database: without NATS there is nothing to do.
            if config.nats_url.is_none() {
                return Err(integration::relay::RelayError::NoNatsUrl.into());
            }
            let db = Db::connect(&config).await?;
            db.migrate().await?;
            let relayed = integration::relay::run(&config, &db, shutdown_signal()).await;
            db.close().await;
            relayed?;
        }
        Command::Admin(AdminCommand::Create { email, name }) => {
            let password = match std::env::var("MARQUEE_ADMIN_PASSWORD") {
                Ok(password) => password,
                Err(_) => {
                    let mut line = String::new();
                    std::io::stdin().read_line(&mut line)?;
                    line.trim_end_matches(['\r', '\n']).to_owned()
                }
            };
            let db = Db::connect(&config).await?;
            db.migrate().await?;
            let account = identity::service::create_account(
                &db,
                &email,
                &password,
                &name,
                identity::model::Role::Admin,
                SystemClock.now(),
            )
            .await
            .map_err(|error| anyhow::anyhow!("{error}"))?;
            println!("created administrator {} ({})", account.email, account.id);
            db.close().await;
        }
        Command::Bench(_) => unreachable!("handled before configuration is loaded"),
    }
    Ok(())
}
