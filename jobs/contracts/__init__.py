"""Source-data contracts: each source's schema is declared once here, as StructType constants.

docs/data-contracts.md documents the same sources for people; a test keeps the two in step.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import types as T

from jobs.contracts.campaigns import CAMPAIGN_SCHEMA
from jobs.contracts.customers import CONSENT_SCHEMA, CRM_CUSTOMER_SCHEMA, LOYALTY_MEMBER_SCHEMA
from jobs.contracts.ecommerce import ORDER_SCHEMA
from jobs.contracts.pos import POS_LINE_SCHEMA
from jobs.contracts.reference import PRODUCTS_SCHEMA, STORES_SCHEMA, WAREHOUSES_SCHEMA
from jobs.contracts.warehouse import MOVEMENT_SCHEMA, OPENING_STOCK_SCHEMA


@dataclass(frozen=True)
class Source:
    """One landing source: where its files are, their format, schema and key."""

    name: str
    path: str
    file_format: str
    schema: T.StructType
    key: tuple[str, ...]


SOURCES: dict[str, Source] = {
    source.name: source
    for source in (
        Source("stores", "reference/stores.csv", "csv", STORES_SCHEMA, ("store_id",)),
        Source("products", "reference/products.csv", "csv", PRODUCTS_SCHEMA, ("sku",)),
        Source(
            "warehouses", "reference/warehouses.csv", "csv", WAREHOUSES_SCHEMA, ("location_id",)
        ),
        Source(
            "pos_lines",
            "pos/sale_date=YYYY-MM-DD/store_id=<n>/<file>.csv[.gz]",
            "csv",
            POS_LINE_SCHEMA,
            ("sale_date", "store_id", "transaction_id", "line_number"),
        ),
        Source(
            "ecommerce_orders",
            "ecommerce/orders/export_date=YYYY-MM-DD/<file>.jsonl",
            "jsonl",
            ORDER_SCHEMA,
            ("order_id", "updated_ts"),
        ),
        Source(
            "stock_movements",
            "warehouse/movements/movement_date=YYYY-MM-DD/<file>.csv",
            "csv",
            MOVEMENT_SCHEMA,
            ("movement_id",),
        ),
        Source(
            "opening_stock",
            "warehouse/opening_stock/snapshot_date=YYYY-MM-DD/opening_stock.csv",
            "csv",
            OPENING_STOCK_SCHEMA,
            ("location_id", "sku"),
        ),
        Source(
            "crm_customers",
            "crm/customers/export_date=YYYY-MM-DD/crm_customers.csv",
            "csv",
            CRM_CUSTOMER_SCHEMA,
            ("crm_id", "updated_at"),
        ),
        Source(
            "loyalty_members",
            "loyalty/members/export_date=YYYY-MM-DD/loyalty_members.csv",
            "csv",
            LOYALTY_MEMBER_SCHEMA,
            ("loyalty_id", "updated_at"),
        ),
        Source(
            "marketing_consents",
            "marketing/consents/export_date=YYYY-MM-DD/consents.csv",
            "csv",
            CONSENT_SCHEMA,
            ("event_id",),
        ),
        Source(
            "campaigns", "reference/campaigns.jsonl", "jsonl", CAMPAIGN_SCHEMA, ("campaign_id",)
        ),
    )
}

__all__ = ["SOURCES", "Source"]
