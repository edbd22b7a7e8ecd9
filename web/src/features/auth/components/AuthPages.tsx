/** Register, sign in, verify e-mail, forgot and reset password. */
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { Link, useNavigate, useSearchParams } from 'react-router-dom';
import { Field, ProblemAlert } from '@/components/ui';
import { api, unwrap } from '@/lib/api-client';
import { useAuth } from '@/lib/auth';
import { fieldErrors, toProblem, type ProblemBody } from '@/lib/problem';

function useSubmit<T>(action: () => Promise<T>, onDone: (value: T) => void) {
  const [problem, setProblem] = useState<ProblemBody | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setProblem(null);
    setBusy(true);
    try {
      onDone(await action());
    } catch (error) {
      setProblem(toProblem(error));
    } finally {
      setBusy(false);
    }
  };
  return { problem, busy, submit };
}

export function LoginPage() {
  const { login } = useAuth();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const next = params.get('next') ?? '/';
  const { problem, busy, submit } = useSubmit(() => login(email, password), () => navigate(next.startsWith('/') ? next : '/'));
  return (
    <div className="narrow">
      <h1>Sign in</h1>
      <form onSubmit={(e) => void submit(e)} className="form">
        {problem ? <ProblemAlert problem={problem} /> : null}
        <Field label="E-mail">{(p) => <input {...p} type="email" autoComplete="email" value={email} onChange={(e) => setEmail(e.target.value)} required />}</Field>
        <Field label="Password">
          {(p) => <input {...p} type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} required />}
        </Field>
        <button type="submit" className="primary" disabled={busy}>
          Sign in
        </button>
      </form>
      <p>
        <Link to="/forgot-password">Forgot your password?</Link> · <Link to="/register">Create an account</Link>
      </p>
    </div>
  );
}

export function RegisterPage() {
  const { login } = useAuth();
  const navigate = useNavigate();
  const [values, setValues] = useState({ email: '', password: '', display_name: '' });
  const timezone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const { problem, busy, submit } = useSubmit(
    async () => {
      unwrap(await api.POST('/v1/auth/register', { body: { ...values, timezone } }));
      await login(values.email, values.password);
    },
    () => navigate('/'),
  );
  const errors = fieldErrors(problem ?? undefined);
  const set = (name: keyof typeof values) => (e: { target: { value: string } }) => setValues((v) => ({ ...v, [name]: e.target.value }));
  return (
    <div className="narrow">
      <h1>Create an account</h1>
      <form onSubmit={(e) => void submit(e)} className="form">
        {problem ? <ProblemAlert problem={problem} /> : null}
        <Field label="Display name" error={errors.display_name}>{(p) => <input {...p} autoComplete="nickname" value={values.display_name} onChange={set('display_name')} required />}</Field>
        <Field label="E-mail" error={errors.email}>{(p) => <input {...p} type="email" autoComplete="email" value={values.email} onChange={set('email')} required />}</Field>
        <Field label="Password" error={errors.password} hint="At least 12 characters, mixing letters, digits or symbols">
          {(p) => <input {...p} type="password" autoComplete="new-password" value={values.password} onChange={set('password')} required minLength={12} />}
        </Field>
        <p className="muted small">Time zone: {timezone} (change it later in your profile)</p>
        <button type="submit" className="primary" disabled={busy}>
          Create account
        </button>
      </form>
      <p>
        Already registered? <Link to="/login">Sign in</Link>
      </p>
    </div>
  );
}

export function ForgotPasswordPage() {
  const [email, setEmail] = useState('');
  const [sent, setSent] = useState(false);
  const { problem, busy, submit } = useSubmit(async () => unwrap(await api.POST('/v1/auth/forgot-password', { body: { email } })), () => setSent(true));
  return (
    <div className="narrow">
      <h1>Forgot your password?</h1>
      {sent ? (
        <p role="status">If an account uses this address, an e-mail with a reset link is on its way.</p>
      ) : (
        <form onSubmit={(e) => void submit(e)} className="form">
          {problem ? <ProblemAlert problem={problem} /> : null}
          <Field label="E-mail">{(p) => <input {...p} type="email" autoComplete="email" value={email} onChange={(e) => setEmail(e.target.value)} required />}</Field>
          <button type="submit" className="primary" disabled={busy}>
            Send reset link
          </button>
        </form>
      )}
    </div>
  );
}

export function ResetPasswordPage() {
  const [params] = useSearchParams();
  const [password, setPassword] = useState('');
  const [done, setDone] = useState(false);
  const token = params.get('token') ?? '';
  const { problem, busy, submit } = useSubmit(async () => unwrap(await api.POST('/v1/auth/reset-password', { body: { token, password } })), () => setDone(true));
  return (
    <div className="narrow">
      <h1>Choose a new password</h1>
      {done ? (
        <p role="status">
          Your password is changed. <Link to="/login">Sign in</Link>
        </p>
      ) : (
        <form onSubmit={(e) => void submit(e)} className="form">
          {problem ? <ProblemAlert problem={problem} /> : null}
          <Field label="New password" error={fieldErrors(problem ?? undefined).password}>
            {(p) => <input {...p} type="password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} required minLength={12} />}
          </Field>
          <button type="submit" className="primary" disabled={busy || !token}>
            Set password
          </button>
        </form>
      )}
    </div>
  );
}

export function VerifyEmailPage() {
  const [params] = useSearchParams();
  const token = params.get('token') ?? '';
  const [state, setState] = useState<'working' | 'done' | ProblemBody>('working');
  const started = useRef(false);
  useEffect(() => {
    if (started.current) return;
    started.current = true;
    void api.POST('/v1/auth/verify-email', { body: { token } }).then((answer) => {
      try {
        unwrap(answer);
        setState('done');
      } catch (error) {
        setState(toProblem(error));
      }
    });
  }, [token]);
  return (
    <div className="narrow">
      <h1>E-mail verification</h1>
      {state === 'working' ? <p role="status">Confirming…</p> : null}
      {state === 'done' ? (
        <p role="status">
          Your e-mail address is confirmed. <Link to="/login">Sign in</Link>
        </p>
      ) : null}
      {typeof state === 'object' ? <ProblemAlert problem={state} /> : null}
    </div>
  );
}
