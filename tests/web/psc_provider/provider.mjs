// A local OpenID provider standing in for Pro Santé Connect in the tests: oidc-provider (an
// OpenID-certified implementation) configured as PSC is — discovery, authorization code with
// PKCE (S256), `scope=openid scope_all`, `acr_values=eidas1`, the professional's idNat_PS as the
// userinfo's `SubjectNameID`, a signed (JWT) userinfo, client authentication by mutual TLS
// (`tls_client_auth`) and RP-initiated logout — served over TLS on loopback with the test's CA.
//
// Usage: node provider.mjs CONFIG.json ; prints one JSON line {"issuer": ...} once listening.
// The login page stands in for the e-CPS app: the professional types their idNat_PS (the
// accounts the test declared only; SYNTHETIC people).
import { createHash, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import https from 'node:https';

import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const accounts = config.accounts; // idNat_PS -> {given_name, family_name}
const subjectOf = (idnat) => createHash('sha256').update(`psc-test:${idnat}`).digest('hex').slice(0, 32);
const bySubject = new Map(Object.keys(accounts).map((idnat) => [subjectOf(idnat), idnat]));

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'psc-test-rs256', alg: 'RS256', use: 'sig' };

const escape = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const page = (title, body) => `<!doctype html><html lang="fr"><head><meta charset="utf-8">
<title>${escape(title)}</title></head><body><h1>${escape(title)}</h1>
<p>Fournisseur d'identité de test (SYNTHÉTIQUE), à la place de Pro Santé Connect.</p>${body}</body></html>`;

function peerCertificate(ctx) {
  const peer = ctx.socket.getPeerCertificate(true);
  return peer && peer.raw ? new X509Certificate(peer.raw) : undefined;
}

const server = https.createServer({
  cert: readFileSync(config.tls.cert),
  key: readFileSync(config.tls.key),
  ca: readFileSync(config.tls.ca),
  requestCert: true, // asked of every client; only the token endpoint needs it (tls_client_auth)
  rejectUnauthorized: false,
});

server.listen(0, '127.0.0.1', () => {
  const issuer = `https://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: config.client.client_id,
      token_endpoint_auth_method: 'tls_client_auth',
      tls_client_auth_subject_dn: config.client.subject_dn,
      redirect_uris: config.client.redirect_uris,
      post_logout_redirect_uris: config.client.post_logout_redirect_uris,
      response_types: ['code'],
      grant_types: ['authorization_code'],
      id_token_signed_response_alg: 'RS256',
      userinfo_signed_response_alg: 'RS256',
    }],
    jwks: { keys: [signingKey] },
    scopes: ['openid', 'scope_all'],
    claims: {
      openid: ['sub'],
      scope_all: ['SubjectNameID', 'given_name', 'family_name', 'preferred_username'],
    },
    acrValues: ['eidas1'],
    clientAuthMethods: ['tls_client_auth'],
    pkce: { methods: ['S256'], required: () => true },
    cookies: { keys: ['psc-test-cookie-key-SYNTHETIC'] },
    features: {
      devInteractions: { enabled: false },
      jwtUserinfo: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: async (ctx, form) => {
          ctx.body = page('Déconnexion de Pro Santé Connect', `${form}
<button type="submit" form="op.logoutForm" name="logout" value="yes">Se déconnecter</button>`);
        },
      },
      mTLS: {
        enabled: true,
        tlsClientAuth: true,
        getCertificate: peerCertificate,
        certificateAuthorized: (ctx) => ctx.socket.authorized === true,
        certificateSubjectMatches: (ctx, property, expected) => property === 'tls_client_auth_subject_dn'
          && peerCertificate(ctx)?.subject === expected,
      },
    },
    findAccount: (ctx, sub) => {
      const idnat = bySubject.get(sub);
      if (!idnat) return undefined;
      return {
        accountId: sub,
        claims: () => ({
          sub,
          SubjectNameID: idnat,
          preferred_username: idnat,
          given_name: accounts[idnat].given_name,
          family_name: accounts[idnat].family_name,
        }),
      };
    },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    ttl: { Session: 3600, Interaction: 600, Grant: 3600, AccessToken: 600, AuthorizationCode: 60, IdToken: 600 },
  });

  // The login page (in place of the e-CPS app), then the login and consent in one step.
  async function interaction(req, res) {
    const details = await provider.interactionDetails(req, res);
    if (req.method === 'GET') {
      res.setHeader('Content-Type', 'text/html; charset=utf-8');
      res.end(page('Pro Santé Connect (test)', `<form method="post" action="/interaction/${escape(details.uid)}">
<label for="idnat">Identifiant national (idNat_PS)</label>
<input id="idnat" name="idnat" autocomplete="off" required>
<button type="submit">Valider avec e-CPS</button></form>`));
      return;
    }
    let body = '';
    for await (const chunk of req) body += chunk;
    const idnat = new URLSearchParams(body).get('idnat') ?? '';
    if (!Object.hasOwn(accounts, idnat)) {
      await provider.interactionFinished(req, res, {
        error: 'access_denied', error_description: 'unknown professional',
      }, { mergeWithLastSubmission: false });
      return;
    }
    const accountId = subjectOf(idnat);
    const grant = new provider.Grant({ accountId, clientId: details.params.client_id });
    grant.addOIDCScope('openid scope_all');
    const grantId = await grant.save();
    await provider.interactionFinished(req, res, {
      login: { accountId, acr: 'eidas1', amr: ['mfa'] },
      consent: { grantId },
    }, { mergeWithLastSubmission: false });
  }

  const callback = provider.callback();
  server.on('request', (req, res) => {
    if (req.url.startsWith('/interaction/')) {
      interaction(req, res).catch((error) => {
        res.statusCode = 400;
        res.end(String(error));
      });
    } else {
      callback(req, res);
    }
  });
  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
});
