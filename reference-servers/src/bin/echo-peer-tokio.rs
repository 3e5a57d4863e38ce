//! `echo-peer-tokio PORT`: the minimal tokio echo that `cargo xtask bench` sets beside the tokio
//! reference, the program a tokio user writes first: `#[tokio::main]`, an accept loop on
//! 127.0.0.1, and a task per connection that reads into 16 KiB and answers with `write_all`.
//! Nothing else: no cap, no graceful shutdown, no transform. The bench ends it with SIGTERM or
//! SIGKILL.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let Some(port) = std::env::args().nth(1).and_then(|p| p.parse::<u16>().ok()) else {
        eprintln!("usage: echo-peer-tokio PORT");
        std::process::exit(2);
    };
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    loop {
        let (mut stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        if stream.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                }
            }
        });
    }
}
