fn main() {
    println!("rrun version {}", env!("CARGO_PKG_VERSION"));
}
