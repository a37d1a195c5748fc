//! deploy/ (Terraform) and template.yaml held against this function's code: its Lambda is in both, each
//! sets every variable its Config requires (and none it never reads), and its IAM policy allows every action
//! its adapters call. Reads target/deploy/*.json, which scripts/check_deploy.sh writes.

#[test]
fn deploy_and_the_local_template_hold_this_function() {
    volley_testkit::deploy::holds("metrics-saver", metrics_saver::IAM_ACTIONS, |env| {
        metrics_saver::Config::from_reader(env).map(|_| ())
    });
}
