import type { ProgramDefinition } from './program-types';

/**
 * The demo program: enough variety for a front-end to meet every case (a gift a new user
 * can buy at once, one out of reach, one out of stock; once-only actions and per-order ones),
 * with URLs and accented French so that every JSON-encoding path is exercised.
 */
export const DEMO_PROGRAM: ProgramDefinition = {
  name: { en: 'Demo Rewards', fr: 'Récompenses démo' },
  currency: { en: 'stars', fr: 'étoiles' },
  startingBalance: 150,
  actions: [
    { action: 'welcome', name: { en: 'Welcome bonus', fr: 'Bonus de bienvenue' }, points: 100, maxPerUser: 1 },
    { action: 'purchase', name: { en: 'Purchase (one per order: param1 = order id)', fr: 'Achat (un par commande : param1 = n° de commande)' }, points: 50 },
    { action: 'review', name: { en: 'Product review', fr: 'Avis sur un produit' }, points: 20, maxPerUser: 10 },
    { action: 'newsletter_signup', name: { en: 'Newsletter sign-up', fr: 'Inscription à la lettre d’information' }, points: 30, maxPerUser: 1 },
  ],
  gifts: [
    { giftId: 'coffee', name: { en: 'Coffee voucher', fr: 'Bon pour un café' }, cost: 100, stock: 1000 },
    { giftId: 'cinema_ticket', name: { en: 'Cinema ticket', fr: 'Place de cinéma' }, cost: 300, stock: 500 },
    { giftId: 'weekend_trip', name: { en: 'Weekend for two', fr: 'Week-end à deux' }, cost: 50000, stock: 3 },
    { giftId: 'limited_mug', name: { en: 'Limited-edition mug', fr: 'Mug édition limitée' }, cost: 120, stock: 0 },
  ],
  ads: {
    bonus: [
      {
        adId: 'bonus-double-stars',
        title: { en: 'Double stars this week', fr: 'Étoiles doublées cette semaine' },
        body: { en: 'Every purchase earns twice the stars until Sunday.', fr: 'Chaque achat rapporte deux fois plus d’étoiles jusqu’à dimanche.' },
        imageUrl: 'https://example.com/img/ads/double-stars.png',
        url: 'https://example.com/offers/double-stars?from=app&lang=en',
      },
      {
        adId: 'bonus-review',
        title: { en: 'Review and earn', fr: 'Donnez votre avis, gagnez des étoiles' },
        body: { en: 'Write a product review: 20 stars each.', fr: 'Rédigez un avis : 20 étoiles à chaque fois.' },
        imageUrl: 'https://example.com/img/ads/review.png',
        url: 'https://example.com/reviews/new',
      },
    ],
    specials: [
      {
        adId: 'special-summer',
        title: { en: 'Summer special', fr: 'Spécial été' },
        body: { en: 'Cinema tickets at 300 stars, while stocks last.', fr: 'Places de cinéma à 300 étoiles, dans la limite des stocks.' },
        imageUrl: 'https://example.com/img/ads/summer.jpg',
        url: 'https://example.com/specials/summer/cinema',
      },
    ],
    news: [
      {
        adId: 'news-new-gifts',
        title: { en: 'New gifts in the catalogue', fr: 'Nouveaux cadeaux au catalogue' },
        body: { en: 'A weekend for two joins the catalogue.', fr: 'Un week-end à deux fait son entrée au catalogue. À vos étoiles !' },
        imageUrl: 'https://example.com/img/ads/new-gifts.png',
        url: 'https://example.com/news/2024/new-gifts',
      },
      {
        adId: 'news-app',
        title: { en: 'Our app is out', fr: 'Notre application est disponible' },
        body: { en: 'Track your stars on the go.', fr: 'Suivez vos étoiles où que vous soyez.' },
        imageUrl: 'https://example.com/img/ads/app.png',
        url: 'https://example.com/app/download',
      },
    ],
  },
};
