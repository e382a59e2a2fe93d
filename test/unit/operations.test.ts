import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createMetrics } from '../../src/platform/obs/metrics.js';

// The dashboard and the alert rules name metrics by string: each must be one the server registers.

const dashboard = JSON.parse(readFileSync('deploy/grafana/banyan-dashboard.json', 'utf8'));
const alerts = parse(readFileSync('deploy/prometheus/alerts.yml', 'utf8'));

/** The metric names the registry exposes, histograms with their series suffixes. */
async function registered(): Promise<Set<string>> {
  const names = new Set<string>();
  for (const metric of await createMetrics().registry.getMetricsAsJSON()) {
    names.add(metric.name);
    if (String(metric.type) === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(metric.name + suffix);
  }
  return names;
}

const namesIn = (expr: string) => expr.match(/\b(?:banyan|process|nodejs)_[a-z0-9_]+/g) ?? [];

describe('operations: the Grafana dashboard and the Prometheus alerts', () => {
  it('the dashboard has a data source and a replica variable, and each panel queries metrics the server registers', async () => {
    const names = await registered();
    expect(dashboard.templating.list.map((v: { name: string }) => v.name)).toEqual(['datasource', 'instance']);
    const exprs: string[] = dashboard.panels.flatMap((p: { targets?: { expr: string }[] }) => (p.targets ?? []).map((t) => t.expr));
    expect(exprs.length).toBeGreaterThan(25);
    const used = new Set(exprs.flatMap(namesIn));
    for (const name of used) expect(names, `${name} is not registered`).toContain(name);
    // Every banyan metric the server registers is on some panel.
    for (const name of names)
      if (name.startsWith('banyan_') && !/_(sum|bucket)$/.test(name)) expect(exprs.join(' ')).toContain(name.replace(/_count$/, ''));
  });

  it('every alert has a summary and a runbook, and queries metrics the server registers', async () => {
    const names = await registered();
    const rules: { alert: string; expr: string; annotations: Record<string, string> }[] = alerts.groups.flatMap(
      (g: { rules: unknown[] }) => g.rules,
    );
    expect(rules.map((r) => r.alert)).toEqual(
      expect.arrayContaining([
        'BanyanOutboxBacklogHigh',
        'BanyanPushFailures',
        'BanyanSlowConsumerCloses',
        'BanyanDatabaseSlow',
        'BanyanBusDown',
        'BanyanReplicaDown',
        'BanyanJobFailures',
      ]),
    );
    for (const rule of rules) {
      expect(rule.annotations.summary, rule.alert).toBeTruthy();
      expect(rule.annotations.runbook, rule.alert).toBeTruthy();
      for (const name of namesIn(rule.expr)) expect(names, `${rule.alert}: ${name} is not registered`).toContain(name);
    }
  });
});
