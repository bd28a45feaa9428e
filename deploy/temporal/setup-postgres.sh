#!/bin/sh
# Creates the Temporal and visibility databases on first start and upgrades their schemas on
# every start (update-schema is a no-op when they are current). Runs in temporalio/admin-tools.
set -eu

# temporal-sql-tool reads the password from SQL_PASSWORD.
export SQL_PASSWORD="$POSTGRES_PWD"

sql() {
  temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_HOST" -p 5432 -u "$POSTGRES_USER" "$@"
}

for db in temporal temporal_visibility; do
  # `create` and `setup-schema -v 0.0` fail once the database exists: that is the restart case.
  if sql --db "$db" create; then
    sql --db "$db" setup-schema -v 0.0
  else
    echo "database $db exists; upgrading its schema"
  fi
done

sql --db temporal update-schema -d /etc/temporal/schema/postgresql/v12/temporal/versioned
sql --db temporal_visibility update-schema \
  -d /etc/temporal/schema/postgresql/v12/visibility/versioned
echo "temporal schemas are current"
