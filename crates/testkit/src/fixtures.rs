//! Fixture set-up for tests against the local emulator: tables, buckets and queues shaped as deploy/ and
//! template.yaml define them. The deployed resources come from those files; these are for tests that make
//! their own, uniquely named, so tests run in parallel and in any order.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};

use volley_core::adapters::dynamodb::{birthdays, calls_schema, domains, metrics, tests};

/// A key attribute: its name and type.
type Attr<'a> = (&'a str, ScalarAttributeType);

const S: ScalarAttributeType = ScalarAttributeType::S;
const N: ScalarAttributeType = ScalarAttributeType::N;

fn key((name, typ): Attr<'_>, kind: KeyType) -> (AttributeDefinition, KeySchemaElement) {
    let definition = AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(typ)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let element = KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    (definition, element)
}

/// Creates an on-demand table keyed by `partition` and, optionally, `sort`, with optionally one global
/// secondary index `(name, partition, sort)` projecting every attribute.
async fn create_keyed_table(
    sdk_config: &aws_config::SdkConfig,
    name: &str,
    partition: Attr<'_>,
    sort: Option<Attr<'_>>,
    index: Option<(&str, Attr<'_>, Attr<'_>)>,
) {
    use aws_sdk_dynamodb::types::{GlobalSecondaryIndex, Projection, ProjectionType};
    let mut request = aws_sdk_dynamodb::Client::new(sdk_config)
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest);
    for (definition, element) in
        std::iter::once(key(partition, KeyType::Hash)).chain(sort.map(|s| key(s, KeyType::Range)))
    {
        request = request.attribute_definitions(definition).key_schema(element);
    }
    if let Some((index_name, index_partition, index_sort)) = index {
        let (partition_definition, partition_key) = key(index_partition, KeyType::Hash);
        let (sort_definition, sort_key) = key(index_sort, KeyType::Range);
        let index = GlobalSecondaryIndex::builder()
            .index_name(index_name)
            .key_schema(partition_key)
            .key_schema(sort_key)
            .projection(Projection::builder().projection_type(ProjectionType::All).build())
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        request = request
            .attribute_definitions(partition_definition)
            .attribute_definitions(sort_definition)
            .global_secondary_indexes(index);
    }
    request
        .send()
        .await
        .unwrap_or_else(|e| panic!("create table {name}: {:?}", e.into_service_error()));
}

/// Creates an on-demand table with a string partition key and, optionally, a string sort key.
pub async fn create_table(sdk_config: &aws_config::SdkConfig, name: &str, partition: &str, sort: Option<&str>) {
    create_keyed_table(sdk_config, name, (partition, S), sort.map(|s| (s, S)), None).await;
}

/// Creates an event bus with no rule (what is put on it goes nowhere).
pub async fn create_event_bus(sdk_config: &aws_config::SdkConfig, name: &str) {
    aws_sdk_eventbridge::Client::new(sdk_config)
        .create_event_bus()
        .name(name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("create event bus {name}: {:?}", e.into_service_error()));
}

pub async fn create_birthdays_table(sdk_config: &aws_config::SdkConfig, name: &str) {
    create_table(sdk_config, name, birthdays::schema::PARTITION_KEY, None).await;
}

pub async fn create_calls_table(sdk_config: &aws_config::SdkConfig, name: &str) {
    create_table(sdk_config, name, calls_schema::PARTITION_KEY, None).await;
}

/// The tests table with its `byActiveDay` index (partition `activeDay` S, sort `lastResultAt` N).
pub async fn create_tests_table(sdk_config: &aws_config::SdkConfig, name: &str) {
    use tests::schema::{ACTIVE_DAY, ACTIVE_DAY_INDEX, LAST_RESULT_AT, TEST_KEY};
    let index = (ACTIVE_DAY_INDEX, (ACTIVE_DAY, S), (LAST_RESULT_AT, N));
    create_keyed_table(sdk_config, name, (TEST_KEY, S), None, Some(index)).await;
}

/// The domains table with its sparse `status-dueAt` index, as template.yaml declares it.
pub async fn create_domains_table(sdk_config: &aws_config::SdkConfig, name: &str) {
    use domains::schema::{DOMAIN, DUE_AT, DUE_INDEX, ORGANISATION_ID, STATUS};
    let index = (DUE_INDEX, (STATUS, S), (DUE_AT, N));
    create_keyed_table(sdk_config, name, (ORGANISATION_ID, S), Some((DOMAIN, S)), Some(index)).await;
}

/// The metrics table: partition `series` (S), sort `second` (N).
pub async fn create_metrics_table(sdk_config: &aws_config::SdkConfig, name: &str) {
    use metrics::schema::{SECOND, SERIES};
    create_keyed_table(sdk_config, name, (SERIES, S), Some((SECOND, N)), None).await;
}

/// Writes a domain with a status, as the domain-validator would.
pub async fn put_domain(
    sdk_config: &aws_config::SdkConfig,
    table: &str,
    organisation: &str,
    domain: &str,
    status: &str,
) {
    aws_sdk_dynamodb::Client::new(sdk_config)
        .put_item()
        .table_name(table)
        .item(domains::schema::ORGANISATION_ID, AttributeValue::S(organisation.into()))
        .item(domains::schema::DOMAIN, AttributeValue::S(domain.into()))
        .item(domains::schema::STATUS, AttributeValue::S(status.into()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("put domain: {:?}", e.into_service_error()));
}

pub async fn create_bucket(sdk_config: &aws_config::SdkConfig, name: &str) {
    volley_core::adapters::s3::client(sdk_config)
        .create_bucket()
        .bucket(name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("create bucket {name}: {:?}", e.into_service_error()));
}

/// Creates a queue and answers its URL.
pub async fn create_queue(sdk_config: &aws_config::SdkConfig, name: &str) -> String {
    aws_sdk_sqs::Client::new(sdk_config)
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("create queue {name}: {:?}", e.into_service_error()))
        .queue_url
        .unwrap_or_else(|| panic!("no URL for queue {name}"))
}

/// Receives up to 10 messages (waiting up to `wait_seconds`), deleting none.
pub async fn receive(sdk_config: &aws_config::SdkConfig, queue_url: &str, wait_seconds: i32) -> Vec<String> {
    aws_sdk_sqs::Client::new(sdk_config)
        .receive_message()
        .queue_url(queue_url)
        .max_number_of_messages(10)
        .wait_time_seconds(wait_seconds)
        .send()
        .await
        .unwrap_or_else(|e| panic!("receive: {:?}", e.into_service_error()))
        .messages
        .unwrap_or_default()
        .into_iter()
        .filter_map(|m| m.body)
        .collect()
}

/// Puts a `User Call` event with `detail` on `bus`.
pub async fn put_user_call(sdk_config: &aws_config::SdkConfig, bus: &str, detail: &serde_json::Value) {
    volley_core::adapters::driver::EventBus::new(sdk_config, bus)
        .put_user_calls(std::slice::from_ref(detail))
        .await
        .unwrap_or_else(|e| panic!("put events: {e:?}"));
}

/// One statistic of `ResponseTime` at a 1-second period: (Unix second, value) pairs.
pub async fn response_time(
    sdk_config: &aws_config::SdkConfig,
    test: &volley_core::model::scope::TestScope,
    region: Option<&str>,
    statistic: &str,
    from: i64,
    to: i64,
) -> Vec<(i64, f64)> {
    metric(sdk_config, test, region, "ResponseTime", statistic, from, to).await
}

/// One statistic of the metric `name` of a series at a 1-second period: (Unix second, value) pairs.
pub async fn metric(
    sdk_config: &aws_config::SdkConfig,
    test: &volley_core::model::scope::TestScope,
    region: Option<&str>,
    name: &str,
    statistic: &str,
    from: i64,
    to: i64,
) -> Vec<(i64, f64)> {
    use aws_sdk_cloudwatch::primitives::DateTime;
    let series = volley_core::model::saved_metrics::Series::new(test, region);
    let query = volley_core::adapters::cloudwatch::metric_query("q".into(), &series, name, statistic);
    let out = aws_sdk_cloudwatch::Client::new(sdk_config)
        .get_metric_data()
        .metric_data_queries(query)
        .start_time(DateTime::from_secs(from))
        .end_time(DateTime::from_secs(to))
        .send()
        .await
        .unwrap_or_else(|e| panic!("get metric data: {:?}", e.into_service_error()));
    out.metric_data_results()
        .iter()
        .flat_map(|r| r.timestamps().iter().zip(r.values()).map(|(t, v)| (t.secs(), *v)))
        .collect()
}

/// A queue of its own (visibility `visibility` seconds) with a dead-letter queue after `max_receives`,
/// mapped to `function` with partial batch responses: answers (queue URL, dead-letter queue URL, mapping id).
pub async fn queue_into_function(
    sdk_config: &aws_config::SdkConfig,
    name: &str,
    function: &str,
    visibility: u32,
    max_receives: u32,
) -> (String, String, String) {
    use aws_sdk_sqs::types::QueueAttributeName;
    let sqs = aws_sdk_sqs::Client::new(sdk_config);
    let dlq_url = create_queue(sdk_config, &format!("{name}-dlq")).await;
    let arn = |url: String| {
        let sqs = sqs.clone();
        async move {
            sqs.get_queue_attributes()
                .queue_url(url)
                .attribute_names(QueueAttributeName::QueueArn)
                .send()
                .await
                .unwrap_or_else(|e| panic!("queue attributes: {:?}", e.into_service_error()))
                .attributes
                .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
                .unwrap_or_else(|| panic!("no queue ARN"))
        }
    };
    let dlq_arn = arn(dlq_url.clone()).await;
    let redrive = serde_json::json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receives}).to_string();
    let queue_url = sqs
        .create_queue()
        .queue_name(name)
        .attributes(QueueAttributeName::VisibilityTimeout, visibility.to_string())
        .attributes(QueueAttributeName::RedrivePolicy, redrive)
        .send()
        .await
        .unwrap_or_else(|e| panic!("create queue {name}: {:?}", e.into_service_error()))
        .queue_url
        .unwrap_or_default();
    let queue_arn = arn(queue_url.clone()).await;
    let mapping = aws_sdk_lambda::Client::new(sdk_config)
        .create_event_source_mapping()
        .function_name(function)
        .event_source_arn(queue_arn)
        .batch_size(10)
        .function_response_types(aws_sdk_lambda::types::FunctionResponseType::ReportBatchItemFailures)
        .send()
        .await
        .unwrap_or_else(|e| panic!("event source mapping: {:?}", e.into_service_error()));
    (queue_url, dlq_url, mapping.uuid.unwrap_or_default())
}

/// Removes an event source mapping made by [`queue_into_function`].
pub async fn delete_mapping(sdk_config: &aws_config::SdkConfig, uuid: &str) {
    let _ = aws_sdk_lambda::Client::new(sdk_config)
        .delete_event_source_mapping()
        .uuid(uuid)
        .send()
        .await;
}

/// Invokes `function` asynchronously (InvocationType Event) with `payload`, as AWS delivers EventBridge
/// rule targets: Lambda's own retries and on-failure destination then apply.
pub async fn invoke_async(sdk_config: &aws_config::SdkConfig, function: &str, payload: &serde_json::Value) {
    volley_core::adapters::driver::Functions::new(sdk_config)
        .invoke_async(function, payload)
        .await
        .unwrap_or_else(|e| panic!("invoke {function}: {e:?}"));
}

/// Invokes `function` synchronously with `payload`, as `aws lambda invoke` does: its answer, or the error
/// it reported (Lambda's `errorType` and `errorMessage`, as JSON).
pub async fn invoke(
    sdk_config: &aws_config::SdkConfig,
    function: &str,
    payload: &serde_json::Value,
) -> Result<serde_json::Value, serde_json::Value> {
    volley_core::adapters::driver::Functions::new(sdk_config)
        .invoke(function, payload)
        .await
        .unwrap_or_else(|e| panic!("invoke {function}: {e:?}"))
        .map_err(|e| e.answer)
}

/// Puts `value` at `path` in SSM Parameter Store as a SecureString (replacing any), as an organisation
/// would store a secret its calls name by reference.
pub async fn put_secret(sdk_config: &aws_config::SdkConfig, path: &str, value: &str) {
    aws_sdk_ssm::Client::new(sdk_config)
        .put_parameter()
        .name(path)
        .value(value)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .overwrite(true)
        .send()
        .await
        .unwrap_or_else(|e| panic!("put parameter {path}: {:?}", e.into_service_error()));
}
