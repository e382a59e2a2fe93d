import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { describe, expect, it } from 'vitest';
import ts from 'typescript';
import { parseAllDocuments } from 'yaml';
import { type ConfigInput, loadConfig, settingNames } from '../../src/platform/config.js';

// deploy/k8s: every manifest against Kubernetes' own schemas (kubernetes-models: the API's OpenAPI
// schemas, and the Prometheus Operator's CRD), then the fields that tie them to each other and to
// the server: selectors, ports, probe paths, the drain timings, and the settings named.

const root = resolve(import.meta.dirname, '../..');
const dir = join(root, 'deploy/k8s');

/** apiVersion/kind → the schema-validating model of it, and the module whose `I<kind>` types it. */
const MODELS: Record<string, [new (data: any) => { validate(): void }, string]> = {
  'v1/Namespace': [Namespace, 'kubernetes-models/v1/Namespace'],
  'v1/Secret': [Secret, 'kubernetes-models/v1/Secret'],
  'v1/Service': [Service, 'kubernetes-models/v1/Service'],
  'apps/v1/Deployment': [Deployment, 'kubernetes-models/apps/v1/Deployment'],
  'policy/v1/PodDisruptionBudget': [PodDisruptionBudget, 'kubernetes-models/policy/v1/PodDisruptionBudget'],
  'networking.k8s.io/v1/Ingress': [Ingress, 'kubernetes-models/networking.k8s.io/v1/Ingress'],
  'networking.k8s.io/v1/NetworkPolicy': [NetworkPolicy, 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy'],
  'monitoring.coreos.com/v1/ServiceMonitor': [
    ServiceMonitor,
    '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor',
  ],
};

/**
 * Fields the API does not know (a typo such as `readinessProb` would be dropped by the API server
 * without a word, and the JSON schemas allow extra fields): each manifest is type-checked as an
 * object literal of its kind's TypeScript interface, whose excess-property check names them.
 */
function unknownFields(docs: any[]): string[] {
  const fileName = join(dir, 'manifests.check.ts');
  const source = docs
    .map(
      (doc, i) =>
        `import type { I${doc.kind} as T${i} } from '${MODELS[`${doc.apiVersion}/${doc.kind}`]![1]}';\nexport const m${i}: T${i} = ${JSON.stringify(doc)};`,
    )
    .join('\n');
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
  };
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists, readFile } = host;
  host.getSourceFile = (name, language, ...rest) =>
    name === fileName ? ts.createSourceFile(name, source, language) : getSourceFile.call(host, name, language, ...rest);
  host.fileExists = (name) => name === fileName || fileExists.call(host, name);
  host.readFile = (name) => (name === fileName ? source : readFile.call(host, name));
  const program = ts.createProgram([fileName], options, host);
  return ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, ' '));
}

/** Read by the AWS SDK for the bucket of STORAGE_URL (README's settings table says so), not by Banyan's config. */
const AWS_SDK_VARIABLES = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'];

const readYaml = (file: string): any[] =>
  parseAllDocuments(readFileSync(join(dir, file), 'utf8')).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join('; ')}`);
    return doc.toJS();
  });

const kustomization = readYaml('kustomization.yaml')[0];
const applied = (kustomization.resources as string[]).flatMap((file) => readYaml(file).map((doc) => ({ file, doc })));
const secretExample = readYaml('secret.example.yaml')[0];
const all = [...applied, { file: 'secret.example.yaml', doc: secretExample }];
const one = (kind: string) => {
  const found = applied.filter(({ doc }) => doc.kind === kind);
  expect(found, kind).toHaveLength(1);
  return found[0]!.doc;
};

const deployment = one('Deployment');
const pod = deployment.spec.template;
const container = pod.spec.containers[0];
const service = one('Service');
const envValue = (name: string) => container.env.find((e: any) => e.name === name)?.value as string | undefined;
/** Whether every label a selector asks for is on `labels`. */
const selects = (selector: Record<string, string>, labels: Record<string, string>) =>
  Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);

describe('deploy/k8s', () => {
  it('lists files that exist, each of a known kind that its schema accepts', () => {
    for (const file of kustomization.resources) expect(existsSync(join(dir, file)), file).toBe(true);
    for (const { file, doc } of all) {
      const [Model] = MODELS[`${doc.apiVersion}/${doc.kind}`] ?? [];
      expect(Model, `${file}: ${doc.apiVersion} ${doc.kind}`).toBeDefined();
      expect(() => new Model!(doc).validate(), file).not.toThrow();
    }
  });

  it('uses no field its kind does not have', { timeout: 60_000 }, () => {
    expect(unknownFields(all.map(({ doc }) => doc))).toEqual([]);
  });

  it('the checks catch a wrong or misspelt field (they can fail)', { timeout: 60_000 }, () => {
    const broken = structuredClone(deployment);
    broken.spec.template.spec.containers[0].ports[0].containerPort = 'http';
    expect(() => new Deployment(broken).validate()).toThrow(/containerPort/);
    expect(() => new Service({ ...service, spec: { ...service.spec, ports: [{ name: 'http' }] } }).validate()).toThrow(/port/);
    const typo = structuredClone(deployment);
    typo.spec.template.spec.containers[0].readinessProb = typo.spec.template.spec.containers[0].readinessProbe;
    expect(unknownFields([typo]).join('\n')).toMatch(/readinessProb\W* does not exist in type 'IContainer'/);
  });

  it('runs three replicas, whose pods every selector selects', () => {
    expect(deployment.spec.replicas).toBe(3);
    const labels = pod.metadata.labels;
    expect(selects(deployment.spec.selector.matchLabels, labels)).toBe(true);
    expect(selects(service.spec.selector, labels)).toBe(true);
    expect(selects(one('PodDisruptionBudget').spec.selector.matchLabels, labels)).toBe(true);
    expect(selects(one('NetworkPolicy').spec.podSelector.matchLabels, labels)).toBe(true);
    for (const spread of pod.spec.topologySpreadConstraints) expect(selects(spread.labelSelector.matchLabels, labels)).toBe(true);
    expect(selects(one('ServiceMonitor').spec.selector.matchLabels, service.metadata.labels)).toBe(true);
    // A disruption leaves most replicas up.
    expect(one('PodDisruptionBudget').spec.maxUnavailable).toBe(1);
  });

  it('serves the server port through the Service, the Ingress and the ServiceMonitor', () => {
    const [port] = container.ports;
    expect(port.containerPort).toBe(Number(envValue('PORT')));
    expect(service.spec.ports.map((p: any) => p.targetPort)).toContain(port.name);
    const backend = one('Ingress').spec.rules[0].http.paths[0].backend.service;
    expect(backend.name).toBe(service.metadata.name);
    expect(service.spec.ports.map((p: any) => p.name)).toContain(backend.port.name);
    const [endpoint] = one('ServiceMonitor').spec.endpoints;
    expect(service.spec.ports.map((p: any) => p.name)).toContain(endpoint.port);
    expect(endpoint.path).toBe('/metrics');
    expect(endpoint.authorization.credentials).toEqual({ name: secretExample.metadata.name, key: 'METRICS_TOKEN' });
  });

  it("probes the server's own health endpoints, readiness failing while the pod drains", () => {
    const health = readFileSync(join(root, 'src/gateway/routes/health.ts'), 'utf8');
    for (const path of ['/healthz', '/readyz']) expect(health).toContain(`'${path}'`);
    for (const probe of [container.startupProbe, container.livenessProbe])
      expect(probe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    // Draining (or storage lost) is not ready; only the bus's outage, which every replica shares, is
    // (test/integration/k8s-probes.test.ts probes a server that drains; scale-failures.test.ts one without Redis).
    expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz?bus=optional', port: 'http' });
    expect(health).toContain("bus: z.enum(['required', 'optional'])");
  });

  it('gives a draining pod longer than the preStop sleep, the drain and the process’s own last resort', () => {
    const [, sleepS] = container.lifecycle.preStop.exec.command;
    const drainMs = Number(envValue('DRAIN_NOTICE_MS')) + Number(envValue('DRAIN_TIMEOUT_MS'));
    expect(Number(envValue('DRAIN_NOTICE_MS'))).toBeGreaterThan(0);
    // src/main.ts exits by itself 5 s after DRAIN_NOTICE_MS + DRAIN_TIMEOUT_MS.
    expect(readFileSync(join(root, 'src/main.ts'), 'utf8')).toContain('drainNoticeMs + config.server.drainTimeoutMs + 5000');
    expect(pod.spec.terminationGracePeriodSeconds * 1000).toBeGreaterThan(Number(sleepS) * 1000 + drainMs + 5000);
  });

  it('names only real settings, from a Secret whose example holds every key, and the server accepts them', () => {
    const known = new Set<string>([...settingNames(), ...AWS_SDK_VARIABLES]);
    for (const { name } of container.env) expect(known.has(name), name).toBe(true);
    const secretKeys = Object.keys(secretExample.stringData);
    const refs = container.env.filter((e: any) => e.valueFrom).map((e: any) => e.valueFrom.secretKeyRef);
    for (const ref of refs) {
      expect(ref.name).toBe(secretExample.metadata.name);
      expect(secretKeys).toContain(ref.key);
    }
    for (const name of ['JWT_SECRET', 'DATABASE_URL', 'REDIS_URL', 'STORAGE_URL', 'METRICS_TOKEN'])
      expect(refs.find((r: any) => r.key === name)?.optional ?? false, name).toBe(false);
    // Placeholders only, never a real secret.
    for (const [key, value] of Object.entries<string>(secretExample.stringData)) expect(value, key).toMatch(/CHANGE-ME|example\.internal/);
    const env: ConfigInput = {};
    for (const e of container.env) env[e.name as keyof ConfigInput] = e.value ?? secretExample.stringData[e.valueFrom.secretKeyRef.key];
    const config = loadConfig(env);
    expect(config.server.trustProxy).toBe(1);
    expect(config.files.storageUrl).toMatch(/^s3:/);
  });

  it('runs as non-root on a read-only root filesystem, DATA_DIR on an emptyDir', () => {
    expect(pod.spec.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(container.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    const mount = container.volumeMounts.find((m: any) => m.mountPath === envValue('DATA_DIR'));
    expect(pod.spec.volumes.find((v: any) => v.name === mount?.name)?.emptyDir).toBeDefined();
    expect(container.resources.requests).toBeDefined();
    expect(container.resources.limits.memory).toBeDefined();
  });

  it('keeps WebSockets open through the Ingress, with TLS, and takes uploads whole', () => {
    const ingress = one('Ingress');
    const notes = ingress.metadata.annotations;
    // uWS pings an idle socket every ~2 minutes: the proxy must wait longer than that.
    for (const key of ['proxy-read-timeout', 'proxy-send-timeout'])
      expect(Number(notes[`nginx.ingress.kubernetes.io/${key}`])).toBeGreaterThan(120);
    const bodyMiB = Number(/^(\d+)m$/.exec(notes['nginx.ingress.kubernetes.io/proxy-body-size'])?.[1]);
    expect(bodyMiB * 1024 * 1024).toBeGreaterThanOrEqual(loadConfig({}).files.maxUploadBytes);
    expect(notes['cert-manager.io/cluster-issuer']).toBeTruthy();
    expect(ingress.spec.tls[0].hosts).toContain(ingress.spec.rules[0].host);
  });

  it('sets the image through kustomization.yaml and never applies the example Secret', () => {
    expect(kustomization.images.map((i: any) => i.name)).toContain(container.image);
    expect(kustomization.resources).not.toContain('secret.example.yaml');
  });
});
