//! `GET /products/{sku}`: the public product page of the "information platform": what is in
//! it, how to use it, its shelf life and period after opening, the batches on sale with their
//! expiry dates, and the after-sales policy that applies to it. No login: nothing personal.

use aftercare::api::{ApiError, HttpRequest, json_response};
use aftercare::catalogue::{Batch, LocalisedText, PolicyClass};
use aftercare::remedy::expiry_date;
use aftercare::store::CatalogueStore;
use aws_lambda_events::apigw::ApiGatewayV2httpResponse;
use aws_lambda_events::http::HeaderValue;
use chrono::NaiveDate;
use serde::Serialize;

use crate::{Intake, Ports};

#[derive(Serialize)]
struct ProductPage<'a> {
    sku: &'a str,
    name: &'a LocalisedText,
    ingredients: &'a [String],
    usage: &'a LocalisedText,
    skin_types: &'a [String],
    shelf_life_months: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pao_months: Option<u32>,
    warnings: &'a LocalisedText,
    policy_class: PolicyClass,
    after_sales_policy: LocalisedText,
    batches: Vec<BatchLine<'a>>,
}

#[derive(Serialize)]
struct BatchLine<'a> {
    batch: &'a str,
    manufactured_on: NaiveDate,
    expires_on: NaiveDate,
}

fn batch_line(batch: &Batch, shelf_life_months: u32) -> BatchLine<'_> {
    BatchLine {
        batch: &batch.batch,
        manufactured_on: batch.manufactured_on,
        expires_on: expiry_date(batch.manufactured_on, shelf_life_months),
    }
}

pub async fn product<P: Ports>(
    intake: &Intake<P>,
    http: &HttpRequest<'_>,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let sku = http.path_param("sku")?;
    if sku.is_empty() || sku.len() > 64 {
        return Err(ApiError::not_found("product"));
    }
    let file = intake
        .catalogue
        .product_file(sku)
        .await?
        .ok_or_else(|| ApiError::not_found("product"))?;
    let product = &file.product;
    let page = ProductPage {
        sku: &product.sku,
        name: &product.name,
        ingredients: &product.ingredients,
        usage: &product.usage,
        skin_types: &product.skin_types,
        shelf_life_months: product.shelf_life_months,
        pao_months: product.pao_months,
        warnings: &product.warnings,
        policy_class: product.policy_class,
        after_sales_policy: product.policy_class.summary(),
        batches: file
            .batches
            .iter()
            .map(|b| batch_line(b, product.shelf_life_months))
            .collect(),
    };
    let mut response = json_response(200, &page);
    // Public and the same for everyone: caches may keep it a few minutes.
    response.headers.insert(
        "cache-control",
        HeaderValue::from_static("public, max-age=300"),
    );
    Ok(response)
}
