// The figures of one benchmark script: a row per measure (median, p99, min, max over its
// samples), each printed to stderr as it comes, and the whole table to stdout at the end.
export const now = () => process.hrtime.bigint();
export const ms = (t0) => Number(now() - t0) / 1e6;

// title heads the table; digits: decimals shown below 100 (from 100 on, none).
export function report(title, digits = 2) {
	const rows = [];
	const fmt = (v) => (Number.isNaN(v) ? '-' : v >= 100 ? v.toFixed(0) : v.toFixed(digits));
	return {
		// A row for the samples xs; returns it.
		stats(name, xs, unit = 'ms') {
			const s = [...xs].sort((a, b) => a - b);
			const q = (p) => s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)];
			const row = { name, n: s.length, median: q(0.5), p99: q(0.99), min: s[0], max: s[s.length - 1], unit };
			rows.push(row);
			console.error(`  ${name}: median ${fmt(row.median)} ${unit}, p99 ${fmt(row.p99)} ${unit} (n=${row.n})`);
			return row;
		},
		// A row for one value (a count, a size, a difference of two rows).
		note(name, value, unit) {
			rows.push({ name, n: 1, median: value, p99: NaN, min: value, max: value, unit });
			console.error(`  ${name}: ${fmt(value)} ${unit}`);
		},
		print() {
			const w = Math.max(...rows.map((r) => r.name.length), 10);
			const cols = ['n', 'median', 'p99', 'min', 'max'].map((c, i) => c.padStart(i ? 9 : 5)).join('  ');
			console.log(`${title.padEnd(w)}  ${cols}  unit`);
			console.log('-'.repeat(w + 55));
			for (const r of rows) {
				const v = [r.median, r.p99, r.min, r.max].map((x) => fmt(x).padStart(9)).join('  ');
				console.log(`${r.name.padEnd(w)}  ${String(r.n).padStart(5)}  ${v}  ${r.unit}`);
			}
		},
	};
}
