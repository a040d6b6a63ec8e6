//! The public product pages, read from the catalogue as `make seed` loads it.

use aftercare::catalogue::Catalogue;
use aftercare::store::{CatalogueStore, DynamoCatalogueStore};
use aftercare_e2e::{twin, workspace};

use crate::{answer, http};

pub(crate) async fn load_seed_catalogue() {
    let twin = twin();
    let text =
        std::fs::read_to_string(workspace().join("infra/local/seed/catalogue.json")).unwrap();
    let catalogue: Catalogue = serde_json::from_str(&text).unwrap();
    let store = DynamoCatalogueStore::new(
        aws_sdk_dynamodb::Client::new(&twin.aws().await),
        twin.name_of("CatalogueTable"),
    );
    assert_eq!(
        store.load(&catalogue).await.unwrap(),
        catalogue.products.len() + catalogue.batches.len()
    );
}

#[tokio::test]
async fn anyone_reads_a_product_page_without_logging_in() {
    load_seed_catalogue().await;
    let response = http()
        .get(twin().api("/products/SERUM-30"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["cache-control"], "public, max-age=300");
    let (status, page) = answer(response).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["name"]["zh-CN"], "玻尿酸保湿精华液 30ml");
    assert_eq!(page["shelf_life_months"], 36);
    assert_eq!(page["pao_months"], 12);
    let batches = page["batches"].as_array().unwrap();
    assert_eq!(batches.len(), 2);
    assert_eq!(batches[0]["batch"], "S2409A");
    assert_eq!(batches[0]["expires_on"], "2027-09-12");
    assert!(
        page["after_sales_policy"]["en"]
            .as_str()
            .unwrap()
            .contains("7 days")
    );

    let (status, missing) = answer(
        http()
            .get(twin().api("/products/NO-SUCH-SKU"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, missing["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
}
