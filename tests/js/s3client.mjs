// One S3 operation with the AWS SDK for JavaScript v3, for tests/test_clients.py.
//
//   node s3client.mjs OPERATION < request.json
//
// The request names the endpoint, region, credentials and the operation's
// arguments. The client is built as Supabase's documentation shows:
// forcePathStyle, the region, an endpoint ending in /storage/v1/s3, and
// nothing else. Prints one JSON object: {"ok": true, ...} or
// {"ok": false, "error": {...}} (exit status 1).

import { createReadStream } from "node:fs";
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";

const PRESIGN_SECONDS = 3600;

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString("utf8"));
}

function clientFor(request) {
  return new S3Client({
    forcePathStyle: true,
    region: request.region,
    endpoint: request.endpoint,
    credentials: request.credentials,
  });
}

// CopySource is "bucket/key" with the key URL-encoded (slashes kept).
function copySource(bucket, key) {
  return `${bucket}/${key.split("/").map(encodeURIComponent).join("/")}`;
}

const operations = {
  async put(s3, r) {
    const Body = Buffer.from(r.body, "hex");
    await s3.send(new PutObjectCommand({ Bucket: r.bucket, Key: r.key, Body }));
    return {};
  },

  async "put-stream"(s3, r) {
    const Body = createReadStream(r.file);
    await s3.send(new PutObjectCommand({ Bucket: r.bucket, Key: r.key, Body }));
    return {};
  },

  async upload(s3, r) {
    const params = { Bucket: r.bucket, Key: r.key, Body: createReadStream(r.file) };
    await new Upload({ client: s3, params }).done();
    return {};
  },

  async get(s3, r) {
    const params = { Bucket: r.bucket, Key: r.key };
    if (r.range) params.Range = r.range;
    const answer = await s3.send(new GetObjectCommand(params));
    const bytes = await answer.Body.transformToByteArray();
    return { body: Buffer.from(bytes).toString("hex") };
  },

  async list(s3, r) {
    const params = { Bucket: r.bucket, Prefix: r.prefix };
    const answer = await s3.send(new ListObjectsV2Command(params));
    return { keys: (answer.Contents ?? []).map((item) => item.Key) };
  },

  async copy(s3, r) {
    const CopySource = copySource(r.bucket, r.source);
    await s3.send(new CopyObjectCommand({ Bucket: r.bucket, Key: r.key, CopySource }));
    return {};
  },

  async delete(s3, r) {
    await s3.send(new DeleteObjectCommand({ Bucket: r.bucket, Key: r.key }));
    return {};
  },

  async "delete-many"(s3, r) {
    const Delete = { Objects: r.keys.map((Key) => ({ Key })) };
    const answer = await s3.send(new DeleteObjectsCommand({ Bucket: r.bucket, Delete }));
    if (answer.Errors?.length) throw new Error(JSON.stringify(answer.Errors));
    return {};
  },

  async "presign-get"(s3, r) {
    const command = new GetObjectCommand({ Bucket: r.bucket, Key: r.key });
    return { url: await getSignedUrl(s3, command, { expiresIn: PRESIGN_SECONDS }) };
  },

  async "presign-put"(s3, r) {
    const command = new PutObjectCommand({ Bucket: r.bucket, Key: r.key });
    return { url: await getSignedUrl(s3, command, { expiresIn: PRESIGN_SECONDS }) };
  },
};

function describe(error) {
  return {
    name: error.name,
    message: error.message,
    code: error.Code ?? error.code,
    status: error.$metadata?.httpStatusCode,
  };
}

async function main() {
  const operation = operations[process.argv[2]];
  if (!operation) throw new Error(`unknown operation ${process.argv[2]}`);
  const request = await readStdin();
  const result = await operation(clientFor(request), request);
  process.stdout.write(JSON.stringify({ ok: true, ...result }));
}

main().catch((error) => {
  process.stdout.write(JSON.stringify({ ok: false, error: describe(error) }));
  process.exitCode = 1;
});
