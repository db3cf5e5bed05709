"""The cloud services the local tools talk to, each once, each with its local stand-in.

- `credentials`: the caller's credentials (environment variables);
- `outputs` and `stack`: a deployed stack from `terraform output -json`, or
  the demo's from the evaluated Terraform (`terraform`);
- `objects`: listing a bucket (OSS, or a local folder);
- `fc`: invoking the function (FC 3.0, or the real handler in-process,
  `localfc`); `events` and `eventpattern`: the events EventBridge delivers
  and the pattern that routes them;
- `mns` and `deadletters`: the dead-letter queue (MNS, or a local file);
- `deployment`: all of them for one stack, deployed or local, behind one
  interface, so a command never knows which it got;
- `standin`: a local OSS server for `imgpipe bench --e2e` and the tests;
- `errors`: what can go wrong, one class per kind.

Nothing here imports a command (`imgpipe.commands`) or a job (`imgpipe.jobs`):
.importlinter's contracts hold the layers.
"""
