/* The directory's migrations, embedded at build time by schema/embed.py: entry i takes
 * the database from PRAGMA user_version i to i + 1. */
#ifndef INSEL_SCHEMA_H
#define INSEL_SCHEMA_H

struct schema_migration {
	int version;       /* user_version after this step */
	const char *name;  /* "001_init" */
	const char *sql;
	const char *bump;  /* "PRAGMA user_version = N;", run in the same transaction */
};

extern const struct schema_migration schema_migrations[];
extern const unsigned schema_migration_count;

/* PostgreSQL's steps (schema/pg): the first makes the schema of its version at once;
 * the version is kept in the table insel_schema. */
extern const struct schema_migration schema_pg_migrations[];
extern const unsigned schema_pg_migration_count;

#endif
