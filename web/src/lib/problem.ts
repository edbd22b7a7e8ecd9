/** RFC 7807 problems as the API sends them (SPEC §5), and the error the client throws. */

export interface FieldError {
  loc?: (string | number)[];
  field?: string;
  msg?: string;
  message?: string;
  type?: string;
  code?: string;
}

export interface ProblemBody {
  type?: string;
  title: string;
  status: number;
  detail?: string;
  code?: string;
  errors?: FieldError[] | null;
  [extra: string]: unknown;
}

/** An API answer that was not a success; carries the problem document. */
export class ApiError extends Error {
  readonly problem: ProblemBody;

  constructor(problem: ProblemBody) {
    super(problem.detail ?? problem.title);
    this.name = 'ApiError';
    this.problem = problem;
  }

  get status(): number {
    return this.problem.status;
  }

  get code(): string | undefined {
    return this.problem.code;
  }
}

/** Turn whatever a failed call produced into a problem document. */
export function toProblem(error: unknown, status = 0): ProblemBody {
  if (error instanceof ApiError) return error.problem;
  if (error && typeof error === 'object' && 'title' in error) return error as ProblemBody;
  const detail = error instanceof Error ? error.message : String(error);
  return { title: 'Something went wrong', status, detail, code: 'CLIENT_ERROR' };
}

/** Map a problem's `errors` to form fields: `{field name: message}`. */
export function fieldErrors(problem: ProblemBody | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const error of problem?.errors ?? []) {
    const loc = error.loc ?? (error.field ? error.field.split('.') : []);
    const path = loc.filter((part) => part !== 'body').map(String);
    const name = path[0];
    if (name && !(name in out)) out[name] = error.msg ?? error.message ?? 'Invalid value';
  }
  return out;
}
