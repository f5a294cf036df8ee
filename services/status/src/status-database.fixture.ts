import { createTestDatabase, type TestDatabase } from "@veriflow/testing";
import { afterAll, beforeAll, beforeEach } from "vitest";
import { MIGRATIONS_DIR } from "./service.js";

/**
 * For a test file: a database of its own with the status migrations applied (a clone of a
 * migrated template), its jobs and their history emptied before each test, dropped after the
 * file. Read `sql` and `url` inside tests: they exist once the file's beforeAll has run.
 */
export function useStatusDatabase(): Pick<TestDatabase, "sql" | "url"> {
  let db: TestDatabase | undefined;
  beforeAll(async () => {
    db = await createTestDatabase({ migrationsDir: MIGRATIONS_DIR });
  });
  afterAll(async () => {
    await db?.drop();
  });
  beforeEach(async () => {
    await db!.sql`truncate verification_jobs, verification_job_events`;
  });
  const opened = () => {
    if (!db) throw new Error("useStatusDatabase: the database exists once beforeAll has run");
    return db;
  };
  return {
    get sql() {
      return opened().sql;
    },
    get url() {
      return opened().url;
    },
  };
}
