// `npm run schema`: writes docs/report.schema.json from src/report/schema.ts (run through tsx: no build needed).
import { writeFileSync } from 'node:fs';
import { reportJsonSchema } from '../src/report/schema.ts';

writeFileSync(new URL('../docs/report.schema.json', import.meta.url), `${JSON.stringify(reportJsonSchema(), null, 2)}\n`);
console.log('wrote docs/report.schema.json');
