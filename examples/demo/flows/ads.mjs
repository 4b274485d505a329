// A JavaScript flow: the worker calls the named export with the run's parameters.
export async function syncAds({ seconds = 5 }) {
  console.log(`syncing ad spend (${seconds}s)`);
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  console.log('ad spend synced');
}
