import { Link } from 'react-router-dom';

export function NotFound() {
  return (
    <>
      <h1>Page not found</h1>
      <p>
        <Link to="/">Back to the competitions</Link>
      </p>
    </>
  );
}
