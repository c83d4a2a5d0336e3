import { useState } from 'preact/hooks';
import { navigate, userPath } from './router';

export function FindUser() {
  const [userId, setUserId] = useState('');
  const [tenantKey, setTenantKey] = useState('');
  const [userIdType, setUserIdType] = useState('open_id');
  const submit = (e: Event) => {
    e.preventDefault();
    if (userId.trim()) navigate(userPath(userId.trim(), tenantKey.trim(), userIdType));
  };
  return (
    <>
      <h1>Find a user</h1>
      <form class="find" onSubmit={submit}>
        <div class="control">
          <label for="user-id">User ID</label>
          <input id="user-id" value={userId} onInput={(e) => setUserId(e.currentTarget.value)} required maxLength={128} spellcheck={false} />
        </div>
        <div class="control">
          <label for="tenant-key">Tenant key</label>
          <input
            id="tenant-key"
            value={tenantKey}
            onInput={(e) => setTenantKey(e.currentTarget.value)}
            maxLength={128}
            spellcheck={false}
            aria-describedby="tenant-help"
          />
          <small id="tenant-help">Store apps only; leave empty for a custom app.</small>
        </div>
        <div class="control">
          <label for="user-id-type">ID type</label>
          <select id="user-id-type" value={userIdType} onChange={(e) => setUserIdType(e.currentTarget.value)}>
            <option value="open_id">open_id</option>
            <option value="union_id">union_id</option>
            <option value="user_id">user_id</option>
          </select>
        </div>
        <button type="submit">Open</button>
      </form>
    </>
  );
}
