use std::process::ExitCode;

// Browse responses allocate many small buffers; mimalloc serves them faster than glibc.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    marquee::cli::run().await
}
