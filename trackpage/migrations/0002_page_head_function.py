from django.db import migrations

# The page head (trackpage/selectors.py, `page_head`) as a PL/pgSQL function: PostgreSQL keeps
# the plan of a function's query per connection, so a link's first view does not plan this
# six-table join again (PostgreSQL's CPU per first view ≈ 1.1 ms before, ≈ 0.2 ms through the
# function, in benchmarks/README.md's fourth pass). Django turns psycopg's prepared statements off (for
# connection poolers); a function's plan cache works behind any pooler. The body is the
# selector's `head_sql()`; tests/trackpage/test_page_head_function.py checks the two agree.
# A migration that changes these columns must replace the function. PostgreSQL only: SQLite
# runs the query itself.
FUNCTION = "trackpage_page_head"

CREATE = f"""
CREATE OR REPLACE FUNCTION {FUNCTION}(p_public_id varchar, p_merchant_id bigint)
RETURNS TABLE (
    shipment_id bigint, shipment_updated_at timestamptz, shipment_status varchar,
    order_id bigint, order_updated_at timestamptz, customer_time_zone varchar,
    rating_id bigint, rating_updated_at timestamptz, revoked_before timestamptz
)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY
    SELECT s.id, s.updated_at, s.status, o.id, o.updated_at, c.time_zone, r.id,
           r.updated_at, lr.revoked_before
    FROM tracking_shipment anchor
    JOIN commerce_order o ON o.id = anchor.order_id AND o.merchant_id = anchor.merchant_id
    JOIN tracking_shipment s ON s.order_id = o.id AND s.merchant_id = anchor.merchant_id
    LEFT JOIN commerce_customer c ON c.id = o.customer_id
    LEFT JOIN trackpage_deliveryrating r ON r.shipment_id = s.id
    LEFT JOIN trackpage_trackinglinkrevocation lr ON lr.order_id = o.id
    WHERE anchor.public_id = p_public_id AND anchor.merchant_id = p_merchant_id
    ORDER BY s.created_at, s.id;
END
$$
"""


def create_function(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop_function(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}(varchar, bigint)")


class Migration(migrations.Migration):
    dependencies = [
        ("commerce", "0002_purchase_stats"),
        ("tracking", "0006_trackingevent_cross_source_match"),
        ("trackpage", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_function, drop_function)]
