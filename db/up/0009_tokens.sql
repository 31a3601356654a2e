-- Token refresh (issue 8). Secrets become text envelopes that carry their format version and
-- key id (jobsd:v1:{key id}:{nonce}:{ciphertext}:{tag}, docs/tokens.md), so keys can rotate.
-- A value written in the earlier bytea form has no key id; it is kept, marked legacy, and a
-- refresh reports it as unreadable, naming the credential.
alter table oauth_credentials
    alter column client_secret_encrypted type text
        using case when client_secret_encrypted is null then null else 'legacy:' || encode(client_secret_encrypted, 'base64') end,
    alter column refresh_token_encrypted type text
        using case when refresh_token_encrypted is null then null else 'legacy:' || encode(refresh_token_encrypted, 'base64') end,
    alter column access_token_encrypted type text
        using case when access_token_encrypted is null then null else 'legacy:' || encode(access_token_encrypted, 'base64') end,
    -- How the client authenticates at the token endpoint (RFC 6749 §2.3.1).
    add column client_auth text not null default 'basic' check (client_auth in ('basic', 'post')),
    add column token_type text;
