fn main() -> std::process::ExitCode {
    hooklens::cli::main()
}
