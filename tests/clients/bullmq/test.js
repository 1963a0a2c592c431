// BullMQ (npm) against the server on KV_PORT, unchanged: jobs added, a worker completes them,
// retries with backoff, delayed jobs, failures after the last attempt, concurrency, the
// queue's event stream (QueueEvents reads it with XREAD) and parent/child flows.
//
// Runs against any Redis-compatible server: tests/e2e/clients.rs points it at a fresh
// kvserver; `KV_PORT=6379 node --test test.js` runs it against redis-server. No assertion is
// about time: a test waits for the state it expects, under a generous deadline that only
// catches a hang.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { Queue, Worker, QueueEvents, FlowProducer } = require('bullmq');

const connection = { host: '127.0.0.1', port: parseInt(process.env.KV_PORT, 10) };
let n = 0;
const queueName = (what) => `kv-${what}-${process.pid}-${n++}`;

/// Waits until `check()` is true; fails after 20 s (a hang, not a speed limit).
async function until(check, what) {
  const deadline = Date.now() + 20000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/// A queue, its events, and the things to close at the end.
async function setup(what) {
  const name = queueName(what);
  const queue = new Queue(name, { connection });
  const events = new QueueEvents(name, { connection });
  await events.waitUntilReady();
  return { name, queue, events, closers: [queue, events] };
}

async function teardown(s) {
  for (const c of s.closers.reverse()) await c.close();
}

test('a worker completes the jobs added, with their results and events', async () => {
  const s = await setup('basic');
  const seen = [];
  s.events.on('completed', ({ jobId, returnvalue }) => seen.push([jobId, returnvalue]));
  const worker = new Worker(s.name, async (job) => ({ doubled: job.data.x * 2 }), { connection });
  s.closers.push(worker);
  const jobs = [];
  for (let x = 1; x <= 10; x++) jobs.push(await s.queue.add('double', { x }));
  await until(async () => (await s.queue.getJobCounts('completed')).completed === 10, '10 jobs');
  for (const job of jobs) {
    const done = await s.queue.getJob(job.id);
    assert.deepEqual(done.returnvalue, { doubled: job.data.x * 2 });
    assert.equal(done.attemptsMade, 1);
    assert.ok(done.finishedOn >= done.processedOn);
  }
  // QueueEvents reads the queue's event stream (XREAD BLOCK) from another connection.
  await until(() => seen.length === 10, 'the completed events');
  assert.deepEqual(
    seen.map(([id]) => id).sort(),
    jobs.map((j) => j.id).sort(),
  );
  const counts = await s.queue.getJobCounts();
  assert.equal(counts.waiting + counts.active + counts.delayed + counts.failed, 0);
  await teardown(s);
});

test('a failing job is retried with backoff, then fails for good after its last attempt', async () => {
  const s = await setup('retry');
  const tries = {};
  const worker = new Worker(
    s.name,
    async (job) => {
      tries[job.name] = (tries[job.name] || 0) + 1;
      if (job.name === 'flaky' && tries.flaky < 3) throw new Error(`try ${tries.flaky} fails`);
      if (job.name === 'broken') throw new Error('always fails');
      return 'ok';
    },
    { connection },
  );
  s.closers.push(worker);
  const backoff = { type: 'fixed', delay: 50 };
  const flaky = await s.queue.add('flaky', {}, { attempts: 3, backoff });
  const broken = await s.queue.add('broken', {}, { attempts: 2, backoff });
  await until(async () => {
    const c = await s.queue.getJobCounts('completed', 'failed');
    return c.completed === 1 && c.failed === 1;
  }, 'one completed and one failed job');
  const f = await s.queue.getJob(flaky.id);
  assert.equal(f.returnvalue, 'ok');
  assert.equal(f.attemptsMade, 3);
  const b = await s.queue.getJob(broken.id);
  assert.equal(b.failedReason, 'always fails');
  assert.equal(b.attemptsMade, 2);
  assert.deepEqual(tries, { flaky: 3, broken: 2 });
  const failed = await s.queue.getFailed();
  assert.deepEqual(failed.map((j) => j.id), [broken.id]);
  // A failed job can be retried by hand.
  await b.retry();
  await until(async () => (await s.queue.getJobCounts('failed')).failed === 1 && tries.broken === 3,
    'the manual retry');
  await teardown(s);
});

test('a delayed job waits in the delayed set until it is due (or promoted)', async () => {
  const s = await setup('delayed');
  const worker = new Worker(s.name, async (job) => job.data.v, { connection });
  s.closers.push(worker);
  const later = await s.queue.add('later', { v: 'promoted' }, { delay: 60 * 60 * 1000 });
  const soon = await s.queue.add('soon', { v: 'due' }, { delay: 200 });
  assert.equal(await later.getState(), 'delayed');
  await until(async () => (await s.queue.getJob(soon.id)).returnvalue === 'due', 'the due job');
  assert.equal(await later.getState(), 'delayed');
  assert.deepEqual((await s.queue.getDelayed()).map((j) => j.id), [later.id]);
  await later.promote();
  await until(async () => (await s.queue.getJob(later.id)).returnvalue === 'promoted',
    'the promoted job');
  assert.equal((await s.queue.getJobCounts('delayed')).delayed, 0);
  await teardown(s);
});

test('concurrent workers process every job exactly once', async () => {
  const s = await setup('concurrency');
  const processed = new Map();
  const handler = async (job) => {
    processed.set(job.id, (processed.get(job.id) || 0) + 1);
    await new Promise((r) => setTimeout(r, 2));
    return job.id;
  };
  for (let w = 0; w < 3; w++) {
    s.closers.push(new Worker(s.name, handler, { connection, concurrency: 5 }));
  }
  await s.queue.addBulk(Array.from({ length: 200 }, (_, i) => ({ name: 'n', data: { i } })));
  await until(async () => (await s.queue.getJobCounts('completed')).completed === 200,
    '200 jobs');
  assert.equal(processed.size, 200);
  assert.ok([...processed.values()].every((count) => count === 1), 'a job ran twice');
  await teardown(s);
});

test('a parent job runs after its children (flows)', async () => {
  const s = await setup('flow');
  const flows = new FlowProducer({ connection });
  s.closers.push(flows);
  const order = [];
  const worker = new Worker(
    s.name,
    async (job) => {
      order.push(job.name);
      if (job.name === 'parent') {
        const children = Object.values(await job.getChildrenValues()).sort();
        return children.join('+');
      }
      return job.data.part;
    },
    { connection },
  );
  s.closers.push(worker);
  const tree = await flows.add({
    name: 'parent',
    queueName: s.name,
    children: [
      { name: 'child', queueName: s.name, data: { part: 'a' } },
      { name: 'child', queueName: s.name, data: { part: 'b' } },
    ],
  });
  await until(async () => (await s.queue.getJob(tree.job.id)).returnvalue === 'a+b',
    'the parent job');
  assert.deepEqual(order, ['child', 'child', 'parent']);
  await teardown(s);
});
