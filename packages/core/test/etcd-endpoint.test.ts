import { describe, expect, it } from 'vitest';
import { endpointProblem } from '../src/etcd-endpoint.js';

describe('endpointProblem', () => {
  it.each(['http://127.0.0.1:2379', 'https://etcd.example.com:2379/', 'http://[fd00::1]:2379', 'http://etcd', 'unix:///run/etcd.sock', 'unix://etcd.sock:0', 'unixs:///x'])('accepts %s', (endpoint) => {
    expect(endpointProblem(endpoint)).toBeUndefined();
  });

  it.each([
    ['127.0.0.1:2379', /has no scheme/],
    ['ftp://127.0.0.1:2379', /has scheme "ftp", which etcd does not speak/],
    ['http://127.0.0.1:notaport', /has port "notaport", which is not a port number from 1 to 65535/],
    ['http://127.0.0.1:70000', /has port "70000"/],
    ['http://127.0.0.1:', /has port ""/],
    ['http://:2379', /has no valid host/],
    ['http://', /has no valid host/],
    ['http://a b:2379', /has no valid host/],
    ['http://127.0.0.1:2379/v3', /has a path/],
    ['http://user:pw@127.0.0.1:2379', /credentials/],
    ['unix://', /names no socket/],
  ])('refuses %s', (endpoint, reason) => {
    const problem = endpointProblem(endpoint);
    expect(problem).toMatch(reason);
    expect(problem).toMatch(/write it as http:\/\/HOST:PORT|--etcd-username/);
  });
});
