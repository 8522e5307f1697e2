//! Generates the PromQL parser from `src/grammar.lalrpop`.

fn main() {
    lalrpop::Configuration::new()
        .use_cargo_dir_conventions()
        .process()
        .expect("generating the PromQL parser from src/grammar.lalrpop");
}
