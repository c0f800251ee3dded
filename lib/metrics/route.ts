/**
 * `GET /metrics` on the one-box server: the Prometheus scrape, behind the
 * same access rule as the status page (a bearer token when `status.token`
 * is set — Prometheus sends it with `authorization: { credentials: … }` —,
 * otherwise this machine only).
 */
import { Hono } from 'hono';
import { checkAccess } from '../status/routes.ts';
import type { PrometheusMetrics } from './prometheus.ts';

export const METRICS_PATH = '/metrics';

export function createMetricsRoute(metrics: Pick<PrometheusMetrics, 'render' | 'contentType'>, token: string | undefined): Hono {
  const app = new Hono();
  app.get(METRICS_PATH, async (c) => {
    const access = checkAccess(c, token);
    if (!access.ok) return access.response;
    return new Response(await metrics.render(), { status: 200, headers: { 'content-type': metrics.contentType, 'cache-control': 'no-store' } });
  });
  return app;
}
