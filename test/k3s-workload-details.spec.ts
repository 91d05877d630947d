/**
 * Issue 26 item 7 on the production (k3s) synth: archon-migrate waits for db to be ready, Postgres
 * gets a startup probe so a long first boot is not killed, Prometheus caps its TSDB below its
 * volume, and no volume asks for less than Hetzner's 10 GB minimum.
 */
import { strict as assert } from "assert";
import { HETZNER_MIN_VOLUME_GB, prometheusRetentionSize } from "../components/kubernetes/monitoring";
import { STARTUP_PROBE } from "../components/kubernetes/workloads";
import { named, ofType, plainInputs, synth } from "./helpers";

describe("k3s workloads: order, probes and volumes", () => {
    it("creates archon-migrate's Job only once db's StatefulSet is ready (Compose: service_healthy)", async () => {
        const s = await synth("production");
        const job = named(s, "kubernetes:batch/v1:Job", "archon-migrate");
        const db = named(s, "kubernetes:apps/v1:StatefulSet", "db");
        assert.ok(job.options.dependsOn?.includes(db.urn), "the Job waits for db");
        // ...and the Archon services still wait for the Job.
        assert.ok(named(s, "kubernetes:apps/v1:Deployment", "archon-server").options.dependsOn?.includes(job.urn));
        // db itself waits for no Job (no cycle).
        assert.ok(!ofType(s, "kubernetes:batch/v1:Job").some((j) => db.options.dependsOn?.includes(j.urn)));
    });

    it("gives Postgres a startup probe: ten minutes for a first boot before liveness may restart it", async () => {
        const db = plainInputs(named(await synth("production"), "kubernetes:apps/v1:StatefulSet", "db"));
        const container = db.spec.template.spec.containers[0];
        assert.deepEqual(container.startupProbe.exec, container.livenessProbe.exec);
        assert.equal(container.startupProbe.periodSeconds * container.startupProbe.failureThreshold, 600);
        assert.equal(container.startupProbe.failureThreshold, STARTUP_PROBE.failureThreshold);
        assert.equal(container.startupProbe.initialDelaySeconds, undefined);
    });

    it("caps Prometheus's TSDB below its volume and asks Hetzner for no volume under 10 GB", async () => {
        const s = await synth("production");
        const values = plainInputs(named(s, "kubernetes:helm.sh/v3:Release", "kube-prometheus-stack")).values;
        const spec = values.prometheus.prometheusSpec;
        const volumeGb = Number(/^(\d+)Gi$/.exec(spec.storageSpec.volumeClaimTemplate.spec.resources.requests.storage)![1]);
        assert.equal(spec.retentionSize, prometheusRetentionSize(volumeGb));
        assert.ok(Number(/^(\d+)GB$/.exec(spec.retentionSize)![1]) < volumeGb);
        assert.equal(prometheusRetentionSize(20), "17GB");
        const gb = (text: string) => Number(/^(\d+)Gi$/.exec(text)![1]);
        const sizes: Record<string, number> = {
            alertmanager: gb(values.alertmanager.alertmanagerSpec.storage.volumeClaimTemplate.spec.resources.requests.storage),
            grafana: gb(values.grafana.persistence.size),
            prometheus: volumeGb,
            loki: gb(plainInputs(named(s, "kubernetes:helm.sh/v3:Release", "loki")).values.singleBinary.persistence.size),
        };
        for (const claim of ofType(s, "kubernetes:core/v1:PersistentVolumeClaim")) sizes[claim.name] = gb(plainInputs(claim).spec.resources.requests.storage);
        for (const [name, size] of Object.entries(sizes)) assert.ok(size >= HETZNER_MIN_VOLUME_GB, `${name}: ${size} GB is rounded up to ${HETZNER_MIN_VOLUME_GB} GB by Hetzner`);
    });
});
