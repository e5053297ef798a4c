// A typed perfapi client, as a frontend team would write it.
//
// `src/perfapi.d.ts` is generated from the committed openapi/openapi.json by
// `npm run generate` (openapi-typescript); nothing here is typed by hand.
// `npm run check` regenerates it and runs `tsc --noEmit`: every call below is
// checked against the current document, and each `@ts-expect-error` line must
// really be an error, so the types cannot silently decay into `any`.

import createClient, { type Client } from "openapi-fetch";
import type {
  paths,
  SchemaGoalAchievement,
  SchemaKeyResult,
  SchemaKpi,
  SchemaKpiCreate,
  SchemaObjective,
  SchemaObjectiveStatus,
  SchemaPageObjective,
  SchemaProblem,
  SchemaSeries,
  SchemaValidationProblem,
} from "./perfapi";

// Lists, reports and series also answer text/csv and application/x-ndjson
// (with `?format=` or an Accept header), and errors are application/problem+json.
// Naming the JSON media types here makes `data` the JSON body (e.g. the page
// object, never `Page | string`) and `error` the problem document.
export type JsonMedia = "application/json" | "application/problem+json";
export type PerfapiClient = Client<paths, JsonMedia>;

export function createPerfapiClient(baseUrl: string, apiKey: string): PerfapiClient {
  return createClient<paths, JsonMedia>({
    baseUrl, // e.g. "https://perfapi.example.com" (the paths already start with /v1)
    headers: {
      Authorization: `Bearer ${apiKey}`, // an API key: pfk_...
      Accept: "application/json",
    },
  });
}

// ---------------------------------------------------------------------------
// Errors: RFC 9457 problem documents

/** Thrown for any non-2xx answer; `problem` is the typed body. */
export class PerfapiError extends Error {
  readonly status: number;
  readonly problem: SchemaProblem | SchemaValidationProblem;

  constructor(status: number, problem: SchemaProblem | SchemaValidationProblem) {
    super(describeProblem(problem));
    this.name = "PerfapiError";
    this.status = status;
    this.problem = problem;
  }

  /** Field errors of a 422, e.g. to show next to form inputs. */
  get fieldErrors(): SchemaValidationProblem["errors"] {
    return isValidationProblem(this.problem) ? this.problem.errors : [];
  }
}

export function isValidationProblem(
  problem: SchemaProblem | SchemaValidationProblem,
): problem is SchemaValidationProblem {
  return "errors" in problem && Array.isArray(problem.errors);
}

export function describeProblem(problem: SchemaProblem | SchemaValidationProblem): string {
  const head = `${problem.status} ${problem.title}${problem.detail ? `: ${problem.detail}` : ""}`;
  if (!isValidationProblem(problem)) {
    return head;
  }
  const fields = problem.errors.map((e) => `${e.loc.join(".")}: ${e.message} (${e.type})`);
  return [head, ...fields].join("\n");
}

/** The body of a successful answer, or a PerfapiError. */
function unwrap<T>(
  result: { data?: T; error?: SchemaProblem | SchemaValidationProblem; response: Response },
): T {
  if (result.error !== undefined) {
    throw new PerfapiError(result.response.status, result.error);
  }
  if (result.data === undefined) {
    throw new Error(`perfapi: empty ${result.response.status} answer`);
  }
  return result.data;
}

// ---------------------------------------------------------------------------
// Objectives: a filtered list, every page

export interface ObjectiveFilter {
  team?: string;
  status?: SchemaObjectiveStatus[];
  dueFrom?: string; // YYYY-MM-DD
  dueTo?: string;
  rootsOnly?: boolean;
}

/** One page of objectives; `cursor` is the previous page's `next_cursor`. */
export async function objectivesPage(
  client: PerfapiClient,
  filter: ObjectiveFilter,
  cursor: string | null,
): Promise<SchemaPageObjective> {
  return unwrap(
    await client.GET("/v1/objectives", {
      params: {
        query: {
          team: filter.team, // undefined (and null) are left out of the URL
          status: filter.status, // ?status=active&status=draft
          due_from: filter.dueFrom,
          due_to: filter.dueTo,
          parent_id: filter.rootsOnly ? "null" : undefined, // the string "null": roots only
          limit: 200,
          cursor: cursor ?? undefined,
        },
      },
    }),
  );
}

/** Every objective matching the filter, following `next_cursor` page by page. */
export async function* listObjectives(
  client: PerfapiClient,
  filter: ObjectiveFilter = {},
): AsyncGenerator<SchemaObjective> {
  let cursor: string | null = null;
  do {
    const page = await objectivesPage(client, filter, cursor);
    yield* page.items;
    cursor = page.next_cursor; // null on the last page
  } while (cursor !== null);
}

// ---------------------------------------------------------------------------
// KPIs and their points

export async function createKpi(client: PerfapiClient, kpi: SchemaKpiCreate): Promise<SchemaKpi> {
  return unwrap(await client.POST("/v1/kpis", { body: kpi }));
}

export interface Point {
  kpi: string; // the KPI's key
  ts: string; // RFC 3339 with an offset
  value: number;
  dimensions?: Record<string, string>;
}

/** Sends points; safe to retry with the same idempotency key. */
export async function postPoints(client: PerfapiClient, points: Point[], idempotencyKey: string) {
  const { data, error, response } = await client.POST("/v1/points", {
    params: { header: { "Idempotency-Key": idempotencyKey } },
    body: { points },
  });
  if (error) {
    throw new PerfapiError(response.status, error);
  }
  return data; // { received, inserted, updated, unchanged }
}

/** The same endpoint takes CSV (`kpi,ts,value` plus `dim.<name>` columns) as it is. */
export async function postPointsCsv(client: PerfapiClient, csv: string) {
  return unwrap(
    await client.POST("/v1/points", {
      body: csv,
      headers: { "Content-Type": "text/csv" },
      bodySerializer: (body) => body, // sent as is, not JSON.stringify'd
    }),
  );
}

export async function kpiSeries(
  client: PerfapiClient,
  kpiId: string,
  from: string,
  to: string,
): Promise<SchemaSeries> {
  return unwrap(
    await client.GET("/v1/kpis/{kpi_id}/series", {
      params: {
        path: { kpi_id: kpiId },
        query: { from, to, interval: "week", tz: "Europe/Berlin" },
      },
    }),
  );
}

// ---------------------------------------------------------------------------
// Reports and key results

export async function goalAchievement(
  client: PerfapiClient,
  from: string,
  to: string,
  team?: string,
): Promise<SchemaGoalAchievement> {
  return unwrap(
    await client.GET("/v1/reports/goal-achievement", {
      params: { query: { from, to, threshold: 0.7, team } },
    }),
  );
}

/** A dashboard's poll: the report is recomputed only when the org's data changed. */
export class GoalAchievementPoller {
  private etag: string | undefined;
  private last: SchemaGoalAchievement | undefined;

  constructor(private readonly client: PerfapiClient) {}

  async poll(from: string, to: string): Promise<SchemaGoalAchievement> {
    const { data, error, response } = await this.client.GET("/v1/reports/goal-achievement", {
      params: {
        query: { from, to },
        header: this.etag ? { "If-None-Match": this.etag } : undefined,
      },
    });
    if (response.status === 304 && this.last) return this.last; // unchanged: empty body
    if (error) throw new PerfapiError(response.status, error);
    this.etag = response.headers.get("ETag") ?? undefined;
    this.last = data;
    return data;
  }
}

/** A key result read from a KPI: revenue from 0 up to 1M. */
export async function createRevenueKeyResult(
  client: PerfapiClient,
  objectiveId: string,
  kpiId: string,
): Promise<SchemaKeyResult> {
  return unwrap(
    await client.POST("/v1/objectives/{objective_id}/key-results", {
      params: { path: { objective_id: objectiveId } },
      body: {
        title: "Reach 1M new ARR",
        direction: "increase", // the direction decides which of the value fields apply
        start_value: 0,
        target_value: 1_000_000,
        kpi_id: kpiId,
        unit: "EUR",
      },
    }),
  );
}

// ---------------------------------------------------------------------------
// A dashboard load, end to end

export async function main(baseUrl: string, apiKey: string): Promise<void> {
  const client = createPerfapiClient(baseUrl, apiKey);

  const active: SchemaObjective[] = [];
  for await (const objective of listObjectives(client, { team: "sales", status: ["active"] })) {
    active.push(objective);
  }

  // direction and aggregation have defaults, so they may be left out.
  const kpi = await createKpi(client, { key: "sales.new_arr", name: "New ARR", unit: "EUR" });

  const ingested = await postPoints(
    client,
    [
      { kpi: kpi.key, ts: "2026-01-05T09:00:00+01:00", value: 120_000 },
      { kpi: kpi.key, ts: "2026-01-12T09:00:00+01:00", value: 95_000, dimensions: { region: "emea" } },
    ],
    "import-2026-01-12",
  );
  console.log(`points: ${ingested.inserted} new, ${ingested.updated} changed`);

  const series = await kpiSeries(client, kpi.id, "2026-01-01", "2026-04-01");
  for (const bucket of series.buckets) {
    console.log(bucket.start, bucket.value ?? "no data", `(${bucket.count} points)`);
  }

  const report = await goalAchievement(client, "2026-01-01", "2026-03-31", "sales");
  console.log(`achieved ${report.achieved} of ${report.measured} measured (rate ${report.rate ?? "n/a"})`);

  const first = active[0];
  if (first !== undefined) {
    const kr = await createRevenueKeyResult(client, first.id, kpi.id);
    console.log(`key result ${kr.id}: progress ${Math.round(kr.progress * 100)}%`);
  }

  // A request the API rejects: a 422 problem with one entry per bad field.
  try {
    await createKpi(client, { key: "Not A Valid Key!", name: "" });
  } catch (e) {
    if (e instanceof PerfapiError) {
      console.log(e.status, e.problem.detail ?? e.problem.title);
      for (const fieldError of e.fieldErrors) {
        console.log(`  ${fieldError.loc.join(".")}: ${fieldError.message}`);
      }
    } else {
      throw e;
    }
  }
}

// ---------------------------------------------------------------------------
// Proof that the types are real: each line below must fail to compile
// (tsc reports an unused @ts-expect-error otherwise).

export async function typeChecks(client: PerfapiClient): Promise<void> {
  // @ts-expect-error direction is "higher_is_better" | "lower_is_better"
  await client.POST("/v1/kpis", { body: { key: "k", name: "K", direction: "up" } });

  // @ts-expect-error a KPI needs its key and name
  await client.POST("/v1/kpis", { body: { name: "K" } });

  await client.POST("/v1/objectives/{objective_id}/key-results", {
    params: { path: { objective_id: "00000000-0000-0000-0000-000000000000" } },
    // @ts-expect-error the body is a oneOf by direction: an increase needs start_value
    body: { title: "Grow", direction: "increase", target_value: 5 },
  });

  await client.POST("/v1/objectives/{objective_id}/key-results", {
    params: { path: { objective_id: "00000000-0000-0000-0000-000000000000" } },
    // @ts-expect-error within takes range_min and range_max, not target_value
    body: { title: "Stay", direction: "within", range_min: 1, range_max: 2, target_value: 2 },
  });

  await client.POST("/v1/points", {
    // @ts-expect-error value is a number, not a string
    body: { points: [{ kpi: "k", ts: "2026-01-01T00:00:00Z", value: "12" }] },
  });

  // @ts-expect-error no such path
  await client.GET("/v1/objective", {});

  // @ts-expect-error the path parameter is required
  await client.GET("/v1/kpis/{kpi_id}/series", { params: { query: { interval: "week" } } });

  const { data } = await client.GET("/v1/objectives", { params: { query: { limit: 10 } } });
  if (data) {
    // JSON is the chosen media type: data is the page object, not the CSV/NDJSON string.
    // @ts-expect-error not a string
    const asText: string = data;
    // @ts-expect-error next_cursor is string | null
    const cursor: string = data.next_cursor;
    void asText;
    void cursor;
  }
}
