import { writeFileSync } from 'node:fs';
import { apiDocFiles, apiDocText, apiDocuments } from '../src/platform/api-docs.js';

// `npm run docs:api`: writes docs/openapi.json and docs/asyncapi.json from the code (a test checks they match).

const documents = await apiDocuments();
for (const [name, file] of Object.entries(apiDocFiles)) {
  writeFileSync(file, apiDocText(documents[name as keyof typeof apiDocFiles]));
  console.log(`wrote ${file}`);
}
