/** Webhook Lambda (Function URL): verify, validate, enqueue. All logic is in lib/. */
import { handle } from 'hono/aws-lambda';
import { createWebhookApp } from '../lib/runtime/aws-webhook.ts';

export const handler = handle(createWebhookApp());
