/** The benchmark's baseline: a minimal handler that sends one message with the AWS SDK v3 SQS client. */
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';

const client = new SQSClient({});

export const handler = async (event: { body?: string }) => {
  await client.send(
    new SendMessageCommand({
      QueueUrl: process.env.RELAY_QUEUE_URL,
      MessageBody: event.body ?? '{}',
      MessageGroupId: 'g',
      MessageDeduplicationId: String(Date.now()),
    }),
  );
  return { statusCode: 202 };
};
