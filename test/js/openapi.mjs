// Checks that the OpenAPI document given (a file) is valid OpenAPI: prints
// the errors and exits 1 when not. Run by test/integration/test_openapi.py.
import { Validator } from "@seriousme/openapi-schema-validator";

const validator = new Validator();
const res = await validator.validate(process.argv[2]);
if (!res.valid) {
  console.log(JSON.stringify(res.errors, null, 1));
  process.exit(1);
}
console.log(`valid OpenAPI ${validator.version}`);
