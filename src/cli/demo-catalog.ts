/**
 * What `inkstream demo` installs in its workspace: the shop's products, a product block, three
 * templates (welcome, abandoned cart, weekly picks), two segments, two triggers and one campaign.
 * Plain data; demo-setup.ts PUTs it through the admin API like any other client would.
 */

export interface Product {
  product_id: string
  name: string
  price: number
  category: string
}

export const PRODUCTS: readonly Product[] = [
  { product_id: 'lamp-walnut', name: 'Walnut desk lamp', price: 89, category: 'Lighting' },
  { product_id: 'lamp-brass', name: 'Brass floor lamp', price: 149, category: 'Lighting' },
  { product_id: 'chair-oak', name: 'Oak lounge chair', price: 420, category: 'Seating' },
  { product_id: 'stool-ash', name: 'Ash bar stool', price: 110, category: 'Seating' },
  { product_id: 'rug-wool', name: 'Wool flatweave rug', price: 260, category: 'Textiles' },
  { product_id: 'throw-linen', name: 'Linen throw', price: 65, category: 'Textiles' },
  { product_id: 'vase-clay', name: 'Clay bud vase', price: 28, category: 'Decor' },
  { product_id: 'clock-wall', name: 'Beech wall clock', price: 54, category: 'Decor' },
]

export const SHOP_URL = 'https://shop.example.com'
export const FROM = 'Demo Shop <hello@shop.example.com>'

/** The connected-content source name the templates save the demo's recommendations as. */
export const RECS_SOURCE = 'recs'

/** `{% render 'product-card', product: … %}`: one product with a link back to the shop. */
export const PRODUCT_BLOCK = {
  name: 'product-card',
  source:
    '<table role="presentation" width="100%" style="border:1px solid #d0d4dc;border-radius:6px;margin:12px 0">' +
    '<tr><td style="padding:16px;font-family:Helvetica,Arial,sans-serif">' +
    '<p style="margin:0;font-size:18px;font-weight:bold;color:#1d2433">{{ product.name | default: "Your pick" }}</p>' +
    '<p style="margin:4px 0 12px;color:#3d4452">{{ product.price | default: "" }} EUR</p>' +
    '<a href="' +
    SHOP_URL +
    '/products/{{ product.product_id | default: "all" }}" style="background:#2f5bd3;color:#ffffff;padding:10px 18px;border-radius:4px;text-decoration:none">Back to your cart</a>' +
    '</td></tr></table>',
}

/** The recommendations call every template makes: a 200 ms budget, so the demo's slow answers fall back. */
const recsCall = (recsUrl: string) =>
  `{% connected_content ${recsUrl}/recs?user={{ user_id }} :save ${RECS_SOURCE} :timeout 200 :cache_max_age 5 %}`

const recsSection = `<mj-raw>{% section "recommendations" %}</mj-raw>
<mj-text><h2>{{ ${RECS_SOURCE}.title }}</h2><p>{% for item in ${RECS_SOURCE}.items limit: 3 %}<a href="${SHOP_URL}/products/{{ item.product_id }}">{{ item.name }}</a> · {{ item.price }} EUR<br>{% endfor %}</p></mj-text>
<mj-raw>{% fallback %}</mj-raw>
<mj-text><h2>Our bestsellers this week</h2><p><a href="${SHOP_URL}/bestsellers">See what everyone is buying</a></p></mj-text>
<mj-raw>{% endsection %}</mj-raw>`

const layout = (recsUrl: string, body: string) =>
  `<mjml><mj-body><mj-section><mj-column>
<mj-raw>${recsCall(recsUrl)}</mj-raw>
${body}
${recsSection}
<mj-text><p style="color:#3d4452">Demo Shop · 1 Example Street · <a href="${SHOP_URL}/preferences">Email preferences</a></p></mj-text>
</mj-column></mj-section></mj-body></mjml>`

export interface TemplateDef {
  id: string
  body: { name: string; subject: string; preheader: string; mjml: string }
}

/** The templates; `recsUrl` is the demo's own recommendations server (http://127.0.0.1:port). */
export function templates(recsUrl: string): TemplateDef[] {
  return [
    {
      id: 'welcome',
      body: {
        name: 'Welcome',
        subject: 'Welcome to Demo Shop, {{ first_name | default: "friend" }}',
        preheader: 'Ten percent off your first order',
        mjml: layout(
          recsUrl,
          `<mj-text><h1>Welcome, {{ first_name | default: "friend" }}!</h1><p>Here is 10% off your first order.</p></mj-text>
<mj-button href="${SHOP_URL}/new?code=WELCOME10">Shop new arrivals</mj-button>`,
        ),
      },
    },
    {
      id: 'cart-abandoned',
      body: {
        name: 'Abandoned cart',
        subject:
          '{{ first_name | default: "Hi" }}, your {{ event.properties.name | default: "cart" }} is waiting',
        preheader: 'Still thinking it over?',
        mjml: layout(
          recsUrl,
          `<mj-text><h1>You left something behind</h1></mj-text>
<mj-raw>{% render 'product-card', product: event.properties %}</mj-raw>`,
        ),
      },
    },
    {
      id: 'weekly-picks',
      body: {
        name: 'Weekly picks',
        subject: '{{ first_name | default: "Hi" }}, picked for you this week',
        preheader: 'New in lighting, seating and textiles',
        mjml: layout(
          recsUrl,
          `<mj-text><h1>Hello {{ first_name | default: "there" }}</h1><p>You last looked at {{ last_viewed_product.name | default: "our new arrivals" }}.</p></mj-text>
<mj-button href="${SHOP_URL}/weekly">See this week's picks</mj-button>`,
        ),
      },
    },
  ]
}

export const SEGMENTS = [
  { id: 'buyers', body: { name: 'Buyers', condition: { orders_total: { $gte: 1 } } } },
  {
    id: 'browsers',
    body: { name: 'Browsing, not buying', condition: { products_viewed_7d: { $gte: 3 }, orders_total: 0 } },
  },
]

/** How long after a cart add without an order the abandoned-cart email goes. */
export const CART_WINDOW_MS = 15_000

export const TRIGGERS = [
  {
    id: 'welcome',
    body: { event: 'Signed Up', templateId: 'welcome', from: FROM, delayMs: 2_000 },
  },
  {
    id: 'cart-abandoned',
    body: {
      event: 'Product Added',
      unless: { event: 'Order Completed', withinMs: CART_WINDOW_MS },
      templateId: 'cart-abandoned',
      from: FROM,
      frequencyCap: { max: 1, perMs: 600_000 },
    },
  },
]

export const CAMPAIGN = {
  id: 'weekly-picks',
  // Paced, so its progress moves on the dashboard (and the recommendations source is not hit all at once).
  body: { templateId: 'weekly-picks', audience: { segment: 'buyers' }, from: FROM, ratePerSecond: 3 },
}
