// The words of the app's chrome in English and Hindi, and the formats of money, dates and
// show times. Movie titles come localized from the API (the browser sends Accept-Language);
// everything else the customer reads is here.

const STRINGS = {
  en: {
    'app.name': 'Marquee',
    'skip': 'Skip to content',
    'loading': 'Loading…',
    'language': 'Language',
    'nav.label': 'Main',
    'nav.movies': 'Movies',
    'nav.bookings': 'My bookings',
    'nav.signin': 'Sign in',
    'nav.register': 'Register',
    'nav.signout': 'Sign out',
    'nav.signedInAs': 'Signed in as {name}',
    'signedOut': 'You have signed out.',

    'error.title': 'Something went wrong',
    'error.retry': 'Try again',
    'error.network.title': 'Cannot reach Marquee',
    'error.network.detail': 'Check your connection and try again.',
    'error.notFound': 'This page does not exist.',
    'error.home': 'Go to the start page',

    'cities.title': 'Choose your city',
    'cities.intro': 'Pick a city to see what is playing.',
    'cities.none': 'No cities yet.',

    'movies.title': 'Movies in {city}',
    'movies.dates': 'Dates',
    'movies.filters': 'Filters',
    'movies.language': 'Language',
    'movies.genre': 'Genre',
    'movies.any': 'Any',
    'movies.count': { one: '{n} movie', other: '{n} movies' },
    'movies.none': 'No movies are showing on this date. Try another day.',
    'movies.noneFiltered': 'No movies match these filters.',
    'movies.changeCity': 'Change city',
    'today': 'Today',
    'tomorrow': 'Tomorrow',

    'movie.showtimes': 'Show times',
    'movie.none': 'No shows of this movie on this date. Try another day.',
    'movie.back': 'All movies in {city}',
    'movie.from': 'from {price}',
    'movie.showName': '{time}, {format}, {language}, {screen}',
    'minutes': '{h} h {m} min',

    'show.screen': 'Screen',
    'show.seats': 'Seats (screen at the top)',
    'show.legend': 'Key',
    'show.available': 'Available',
    'show.selected': 'Your choice',
    'show.unavailable': 'Unavailable',
    'show.accessible': 'Wheelchair accessible',
    'show.notOnSale': 'This show is no longer on sale.',
    'show.cancelled': 'This show has been cancelled. Seats can no longer be chosen.',
    'show.best.title': 'Best available',
    'show.best.count': 'Number of seats',
    'show.best.category': 'Category',
    'show.best.any': 'Any category',
    'show.best.accessible': 'Include a wheelchair accessible seat',
    'show.best.submit': 'Find best seats',
    'show.best.found': { one: 'Best seat selected: {seats}.', other: 'Best {n} seats selected: {seats}.' },
    'show.best.apart': 'They are not all side by side.',
    'show.your': 'Your seats',
    'show.noneSelected': 'No seats chosen yet. Pick seats on the map or use Best available.',
    'show.total': 'Total before offers and fees',
    'show.hold': 'Hold seats',
    'show.holding': 'Holding…',
    'show.clear': 'Clear',
    'show.max': 'You can choose up to {n} seats.',
    'show.signinFirst': 'Sign in to hold your seats.',
    'show.taken': { one: 'Sorry, seat {seats} was just taken by someone else. The map is up to date again; please choose another.', other: 'Sorry, seats {seats} were just taken by someone else. The map is up to date again; please choose others.' },
    'show.lost': { one: 'Seat {seats} was just taken by someone else and is no longer in your selection.', other: 'Seats {seats} were just taken by someone else and are no longer in your selection.' },
    'show.isUnavailable': 'Seat {seat} is unavailable.',
    'show.yourHold': { one: 'You are holding seat {seats}.', other: 'You are holding seats {seats}.' },
    'show.continue': 'Continue to payment',
    'show.seatsSelected': { one: '{n} seat selected', other: '{n} seats selected' },
    'room.title': 'Waiting room',
    'room.opensAt': 'Tickets for this show go on sale at {time}, through a waiting room.',
    'room.signinToJoin': 'Sign in to join it. Everyone who joins before sales open gets a random place in line, so there is no need to be first.',
    'room.preQueue': 'You are in. Sales open at {time}.',
    'room.opensIn': 'Sales open in',
    'room.preQueueWhy': 'When sales open, everyone here gets a random place in line: arriving earlier does not help, and you do not need to refresh. Keep this page open.',
    'room.position': 'You are number {n} in line.',
    'room.ahead': { one: '{n} person ahead of you.', other: '{n} people ahead of you.' },
    'room.next': 'You are next: those ahead of you are choosing their seats.',
    'room.progress': 'Your progress in the line',
    'room.estimate': 'Estimated wait:',
    'room.anyMoment': 'any moment now',
    'room.keepOpen': 'Keep this page open. It moves on by itself when it is your turn, and the wait shown never goes up.',
    'room.minSec': '{m} min {s} s',
    'room.sec': '{s} s',
    'room.yourTurn': 'It is your turn!',
    'room.chooseWithin': 'Choose your seats and hold them within',
    'room.expired': 'Your turn to choose seats has passed.',
    'room.soldOut': 'Sorry, this show is sold out.',
    'room.waitlistWhy': 'Join the waitlist: if seats free up, they are held for you before anyone else can take them.',
    'room.waitlistJoin': 'Join the waitlist',
    'room.waitlisted': 'You are on the waitlist. We will e-mail you if seats free up.',
    'room.fair': 'Up to {n} seats per customer. The order of those who arrived early is drawn from a seed whose fingerprint was published in advance:',
    'room.audit': 'check the draw',
    'seat.name': 'Row {row}, seat {number}, {category}, {price}, {state}',
    'seat.nameAccessible': 'Row {row}, seat {number}, {category}, {price}, wheelchair accessible, {state}',
    'seat.available': 'available',
    'seat.unavailable': 'unavailable',

    'cat.regular': 'Regular',
    'cat.premium': 'Premium',
    'cat.recliner': 'Recliner',

    'checkout.title': 'Checkout',
    'checkout.timeLeft': 'Time left to pay',
    'checkout.minutesLeft': { one: '{n} minute left to pay.', other: '{n} minutes left to pay.' },
    'checkout.secondsLeft': '{n} seconds left to pay.',
    'checkout.expired': 'Your hold has expired and the seats were released.',
    'checkout.backToSeats': 'Back to the seat map',
    'checkout.summary': 'Price',
    'checkout.item': 'Item',
    'checkout.amount': 'Amount',
    'checkout.seatLine': 'Seat {seat} ({category})',
    'checkout.subtotal': 'Tickets',
    'checkout.discounts': 'Discounts',
    'checkout.fees': 'Convenience fees',
    'checkout.total': 'Total',
    'checkout.card': 'Card',
    'checkout.card.visa': 'Test Visa card (pays)',
    'checkout.card.declined': 'Test card that is declined',
    'checkout.card.delayed': 'Test card, slow bank (pays after a few seconds)',
    'checkout.pay': 'Pay {total}',
    'checkout.paying': 'Processing payment…',
    'checkout.stillPending': 'The bank has not answered yet. We are still waiting…',
    'checkout.declined': 'The payment did not go through: {reason}. Choose another card and try again.',
    'checkout.reason.card_declined': 'the card was declined',
    'checkout.reason.gateway_unavailable': 'the payment service did not answer',
    'checkout.reason.not_confirmed': 'the bank did not confirm it',
    'checkout.reason.invalid_card_token': 'the card is not valid',
    'checkout.release': 'Release seats',
    'checkout.released': 'Your seats were released.',

    'booking.confirmed': 'Booking confirmed',
    'booking.enjoy': 'Show this ticket at the entrance. Enjoy the movie!',
    'booking.qrAlt': 'Ticket QR code for {movie}, {time}, seats {seats}',
    'booking.code': 'Ticket code',
    'booking.paid': 'Paid',
    'booking.emailTicket': 'Email me my tickets',
    'booking.emailSent': 'Your tickets are on their way to your email.',
    'booking.seats': 'Seats',
    'booking.when': 'When',
    'booking.where': 'Where',
    'booking.status': 'Status',
    'booking.refund': 'Refund',
    'booking.title': 'Booking',
    'booking.expiredTitle': 'Hold expired',
    'booking.cancelledTitle': 'Booking cancelled',
    'booking.view': 'View booking for {movie}',
    'booking.pay': 'Pay for {movie}',

    'status.pending_payment': 'Awaiting payment',
    'status.confirmed': 'Confirmed',
    'status.expired': 'Expired',
    'status.cancelled': 'Cancelled',

    'bookings.title': 'My bookings',
    'bookings.none': 'No bookings yet.',
    'bookings.findMovie': 'Find a movie',
    'bookings.more': 'More bookings',
    'bookings.cancel': 'Cancel booking',
    'bookings.cancelFor': 'Cancel booking for {movie}',
    'bookings.confirmTitle': 'Cancel this booking?',
    'bookings.confirmText': '{movie}, {time}, seats {seats}.',
    'bookings.refundNote': 'You get {refund} back (convenience fees are not refunded).',
    'bookings.releaseNote': 'The held seats will be released.',
    'bookings.keep': 'Keep booking',
    'bookings.doCancel': 'Yes, cancel',
    'bookings.cancelled': 'Booking cancelled.',
    'bookings.cancelledRefund': 'Booking cancelled. {refund} will be refunded.',

    'auth.signin': 'Sign in',
    'auth.register': 'Create an account',
    'auth.email': 'E-mail',
    'auth.password': 'Password',
    'auth.passwordHint': 'At least 10 characters.',
    'auth.name': 'Your name',
    'auth.submitSignin': 'Sign in',
    'auth.submitRegister': 'Create account',
    'auth.noAccount': 'New here?',
    'auth.haveAccount': 'Already have an account?',
    'auth.welcome': 'Welcome, {name}.',
    'auth.expired': 'Please sign in again.',
    'auth.required': 'Sign in to see this page.',
  },
  hi: {
    'app.name': 'मार्की',
    'skip': 'सामग्री पर जाएँ',
    'loading': 'लोड हो रहा है…',
    'language': 'भाषा',
    'nav.label': 'मुख्य',
    'nav.movies': 'फ़िल्में',
    'nav.bookings': 'मेरी बुकिंग',
    'nav.signin': 'साइन इन',
    'nav.register': 'रजिस्टर करें',
    'nav.signout': 'साइन आउट',
    'nav.signedInAs': '{name} के रूप में साइन इन',
    'signedOut': 'आपने साइन आउट कर दिया है।',

    'error.title': 'कुछ गड़बड़ हो गई',
    'error.retry': 'फिर से कोशिश करें',
    'error.network.title': 'मार्की से संपर्क नहीं हो पा रहा',
    'error.network.detail': 'अपना कनेक्शन जाँचें और फिर से कोशिश करें।',
    'error.notFound': 'यह पेज मौजूद नहीं है।',
    'error.home': 'शुरुआती पेज पर जाएँ',

    'cities.title': 'अपना शहर चुनें',
    'cities.intro': 'देखें आपके शहर में क्या चल रहा है।',
    'cities.none': 'अभी कोई शहर नहीं है।',

    'movies.title': '{city} में फ़िल्में',
    'movies.dates': 'तारीखें',
    'movies.filters': 'फ़िल्टर',
    'movies.language': 'भाषा',
    'movies.genre': 'शैली',
    'movies.any': 'कोई भी',
    'movies.count': { one: '{n} फ़िल्म', other: '{n} फ़िल्में' },
    'movies.none': 'इस तारीख को कोई फ़िल्म नहीं चल रही। कोई और दिन चुनें।',
    'movies.noneFiltered': 'इन फ़िल्टरों से कोई फ़िल्म नहीं मिली।',
    'movies.changeCity': 'शहर बदलें',
    'today': 'आज',
    'tomorrow': 'कल',

    'movie.showtimes': 'शो का समय',
    'movie.none': 'इस तारीख को इस फ़िल्म का कोई शो नहीं है। कोई और दिन चुनें।',
    'movie.back': '{city} की सभी फ़िल्में',
    'movie.from': '{price} से',
    'movie.showName': '{time}, {format}, {language}, {screen}',
    'minutes': '{h} घं {m} मि',

    'show.screen': 'स्क्रीन',
    'show.seats': 'सीटें (स्क्रीन ऊपर है)',
    'show.legend': 'संकेत',
    'show.available': 'उपलब्ध',
    'show.selected': 'आपकी पसंद',
    'show.unavailable': 'अनुपलब्ध',
    'show.accessible': 'व्हीलचेयर के लिए सुलभ',
    'show.notOnSale': 'इस शो की बिक्री बंद हो चुकी है।',
    'show.cancelled': 'यह शो रद्द हो गया है। अब सीटें नहीं चुनी जा सकतीं।',
    'show.best.title': 'सबसे अच्छी सीटें',
    'show.best.count': 'सीटों की संख्या',
    'show.best.category': 'श्रेणी',
    'show.best.any': 'कोई भी श्रेणी',
    'show.best.accessible': 'एक व्हीलचेयर-सुलभ सीट शामिल करें',
    'show.best.submit': 'सबसे अच्छी सीटें खोजें',
    'show.best.found': { one: 'सबसे अच्छी सीट चुनी गई: {seats}।', other: 'सबसे अच्छी {n} सीटें चुनी गईं: {seats}।' },
    'show.best.apart': 'ये सभी साथ-साथ नहीं हैं।',
    'show.your': 'आपकी सीटें',
    'show.noneSelected': 'अभी कोई सीट नहीं चुनी। नक्शे पर सीटें चुनें या “सबसे अच्छी सीटें” का उपयोग करें।',
    'show.total': 'ऑफ़र और शुल्क से पहले कुल',
    'show.hold': 'सीटें रोकें',
    'show.holding': 'रोक रहे हैं…',
    'show.clear': 'हटाएँ',
    'show.max': 'आप अधिकतम {n} सीटें चुन सकते हैं।',
    'show.signinFirst': 'सीटें रोकने के लिए साइन इन करें।',
    'show.taken': { one: 'माफ़ कीजिए, सीट {seats} अभी किसी और ने ले ली। नक्शा अपडेट हो गया है; कृपया दूसरी सीट चुनें।', other: 'माफ़ कीजिए, सीटें {seats} अभी किसी और ने ले लीं। नक्शा अपडेट हो गया है; कृपया दूसरी सीटें चुनें।' },
    'show.lost': { one: 'सीट {seats} अभी किसी और ने ले ली और आपकी पसंद से हटा दी गई है।', other: 'सीटें {seats} अभी किसी और ने ले लीं और आपकी पसंद से हटा दी गई हैं।' },
    'show.isUnavailable': 'सीट {seat} उपलब्ध नहीं है।',
    'show.yourHold': { one: 'आपने सीट {seats} रोकी हुई है।', other: 'आपने सीटें {seats} रोकी हुई हैं।' },
    'show.continue': 'भुगतान जारी रखें',
    'show.seatsSelected': { one: '{n} सीट चुनी गई', other: '{n} सीटें चुनी गईं' },
    'room.title': 'प्रतीक्षा कक्ष',
    'room.opensAt': 'इस शो के टिकट {time} पर एक प्रतीक्षा कक्ष के ज़रिए बिकने शुरू होंगे।',
    'room.signinToJoin': 'शामिल होने के लिए साइन इन करें। बिक्री शुरू होने से पहले आने वाले हर व्यक्ति को कतार में एक बेतरतीब जगह मिलती है, इसलिए सबसे पहले आने की ज़रूरत नहीं।',
    'room.preQueue': 'आप शामिल हो गए हैं। बिक्री {time} पर शुरू होगी।',
    'room.opensIn': 'बिक्री शुरू होने में',
    'room.preQueueWhy': 'बिक्री शुरू होने पर यहाँ मौजूद हर व्यक्ति को कतार में एक बेतरतीब जगह मिलेगी: जल्दी आने से कोई फ़ायदा नहीं, और पेज रीफ़्रेश करने की ज़रूरत नहीं। यह पेज खुला रखें।',
    'room.position': 'कतार में आपका नंबर {n} है।',
    'room.ahead': { one: 'आपसे आगे {n} व्यक्ति है।', other: 'आपसे आगे {n} लोग हैं।' },
    'room.next': 'अगली बारी आपकी है: आपसे आगे वाले अपनी सीटें चुन रहे हैं।',
    'room.progress': 'कतार में आपकी प्रगति',
    'room.estimate': 'अनुमानित प्रतीक्षा:',
    'room.anyMoment': 'बस किसी भी पल',
    'room.keepOpen': 'यह पेज खुला रखें। आपकी बारी आने पर यह अपने आप आगे बढ़ेगा, और दिखाई गई प्रतीक्षा कभी नहीं बढ़ती।',
    'room.minSec': '{m} मिनट {s} सेकंड',
    'room.sec': '{s} सेकंड',
    'room.yourTurn': 'आपकी बारी आ गई!',
    'room.chooseWithin': 'अपनी सीटें चुनकर रोकने के लिए समय बचा है:',
    'room.expired': 'सीटें चुनने की आपकी बारी निकल चुकी है।',
    'room.soldOut': 'माफ़ कीजिए, इस शो के सभी टिकट बिक चुके हैं।',
    'room.waitlistWhy': 'प्रतीक्षा सूची में शामिल हों: सीटें खाली होने पर किसी और से पहले आपके लिए रोकी जाएँगी।',
    'room.waitlistJoin': 'प्रतीक्षा सूची में शामिल हों',
    'room.waitlisted': 'आप प्रतीक्षा सूची में हैं। सीटें खाली होने पर हम आपको ई-मेल करेंगे।',
    'room.fair': 'हर ग्राहक अधिकतम {n} सीटें ले सकता है। जल्दी आने वालों का क्रम एक ऐसे बीज से तय होता है जिसकी छाप पहले से प्रकाशित है:',
    'room.audit': 'ड्रॉ जाँचें',
    'seat.name': 'पंक्ति {row}, सीट {number}, {category}, {price}, {state}',
    'seat.nameAccessible': 'पंक्ति {row}, सीट {number}, {category}, {price}, व्हीलचेयर-सुलभ, {state}',
    'seat.available': 'उपलब्ध',
    'seat.unavailable': 'अनुपलब्ध',

    'cat.regular': 'सामान्य',
    'cat.premium': 'प्रीमियम',
    'cat.recliner': 'रिक्लाइनर',

    'checkout.title': 'भुगतान',
    'checkout.timeLeft': 'भुगतान के लिए बचा समय',
    'checkout.minutesLeft': { one: 'भुगतान के लिए {n} मिनट बचा है।', other: 'भुगतान के लिए {n} मिनट बचे हैं।' },
    'checkout.secondsLeft': 'भुगतान के लिए {n} सेकंड बचे हैं।',
    'checkout.expired': 'आपकी सीटों की रोक समाप्त हो गई और सीटें छोड़ दी गईं।',
    'checkout.backToSeats': 'सीटों के नक्शे पर वापस जाएँ',
    'checkout.summary': 'कीमत',
    'checkout.item': 'विवरण',
    'checkout.amount': 'राशि',
    'checkout.seatLine': 'सीट {seat} ({category})',
    'checkout.subtotal': 'टिकट',
    'checkout.discounts': 'छूट',
    'checkout.fees': 'सुविधा शुल्क',
    'checkout.total': 'कुल',
    'checkout.card': 'कार्ड',
    'checkout.card.visa': 'टेस्ट वीज़ा कार्ड (भुगतान सफल)',
    'checkout.card.declined': 'टेस्ट कार्ड जो अस्वीकार होता है',
    'checkout.card.delayed': 'टेस्ट कार्ड, धीमा बैंक (कुछ सेकंड बाद भुगतान)',
    'checkout.pay': '{total} का भुगतान करें',
    'checkout.paying': 'भुगतान हो रहा है…',
    'checkout.stillPending': 'बैंक ने अभी जवाब नहीं दिया। हम इंतज़ार कर रहे हैं…',
    'checkout.declined': 'भुगतान नहीं हुआ: {reason}। दूसरा कार्ड चुनकर फिर से कोशिश करें।',
    'checkout.reason.card_declined': 'कार्ड अस्वीकार हो गया',
    'checkout.reason.gateway_unavailable': 'भुगतान सेवा ने जवाब नहीं दिया',
    'checkout.reason.not_confirmed': 'बैंक ने पुष्टि नहीं की',
    'checkout.reason.invalid_card_token': 'कार्ड मान्य नहीं है',
    'checkout.release': 'सीटें छोड़ें',
    'checkout.released': 'आपकी सीटें छोड़ दी गईं।',

    'booking.confirmed': 'बुकिंग पक्की हो गई',
    'booking.enjoy': 'प्रवेश पर यह टिकट दिखाएँ। फ़िल्म का आनंद लें!',
    'booking.qrAlt': '{movie}, {time}, सीटें {seats} के टिकट का QR कोड',
    'booking.code': 'टिकट कोड',
    'booking.paid': 'भुगतान',
    'booking.emailTicket': 'मेरे टिकट ईमेल करें',
    'booking.emailSent': 'आपके टिकट आपके ईमेल पर भेजे जा रहे हैं।',
    'booking.seats': 'सीटें',
    'booking.when': 'कब',
    'booking.where': 'कहाँ',
    'booking.status': 'स्थिति',
    'booking.refund': 'रिफ़ंड',
    'booking.title': 'बुकिंग',
    'booking.expiredTitle': 'रोक समाप्त',
    'booking.cancelledTitle': 'बुकिंग रद्द',
    'booking.view': '{movie} की बुकिंग देखें',
    'booking.pay': '{movie} के लिए भुगतान करें',

    'status.pending_payment': 'भुगतान बाकी',
    'status.confirmed': 'पक्की',
    'status.expired': 'समाप्त',
    'status.cancelled': 'रद्द',

    'bookings.title': 'मेरी बुकिंग',
    'bookings.none': 'अभी कोई बुकिंग नहीं।',
    'bookings.findMovie': 'फ़िल्म खोजें',
    'bookings.more': 'और बुकिंग',
    'bookings.cancel': 'बुकिंग रद्द करें',
    'bookings.cancelFor': '{movie} की बुकिंग रद्द करें',
    'bookings.confirmTitle': 'यह बुकिंग रद्द करें?',
    'bookings.confirmText': '{movie}, {time}, सीटें {seats}।',
    'bookings.refundNote': 'आपको {refund} वापस मिलेंगे (सुविधा शुल्क वापस नहीं होता)।',
    'bookings.releaseNote': 'रोकी गई सीटें छोड़ दी जाएँगी।',
    'bookings.keep': 'बुकिंग रखें',
    'bookings.doCancel': 'हाँ, रद्द करें',
    'bookings.cancelled': 'बुकिंग रद्द हो गई।',
    'bookings.cancelledRefund': 'बुकिंग रद्द हो गई। {refund} वापस किए जाएँगे।',

    'auth.signin': 'साइन इन',
    'auth.register': 'खाता बनाएँ',
    'auth.email': 'ई-मेल',
    'auth.password': 'पासवर्ड',
    'auth.passwordHint': 'कम से कम 10 अक्षर।',
    'auth.name': 'आपका नाम',
    'auth.submitSignin': 'साइन इन करें',
    'auth.submitRegister': 'खाता बनाएँ',
    'auth.noAccount': 'पहली बार आए हैं?',
    'auth.haveAccount': 'पहले से खाता है?',
    'auth.welcome': 'स्वागत है, {name}।',
    'auth.expired': 'कृपया फिर से साइन इन करें।',
    'auth.required': 'यह पेज देखने के लिए साइन इन करें।',
  },
};

const GENRES_HI = {
  action: 'एक्शन', thriller: 'थ्रिलर', drama: 'ड्रामा', romance: 'रोमांस', fantasy: 'फ़ैंटेसी',
  family: 'पारिवारिक', 'sci-fi': 'विज्ञान कथा', comedy: 'कॉमेडी', animation: 'एनिमेशन',
  mystery: 'रहस्य', musical: 'संगीतमय', horror: 'हॉरर', documentary: 'डॉक्यूमेंट्री',
};

const SUPPORTED = ['en', 'hi'];
const CHOSEN_KEY = 'marquee.lang';

function pickLanguage() {
  let chosen = null;
  try { chosen = localStorage.getItem(CHOSEN_KEY); } catch { /* storage may be off */ }
  if (SUPPORTED.includes(chosen)) return chosen;
  for (const tag of navigator.languages || [navigator.language || 'en']) {
    const base = tag.toLowerCase().split('-')[0];
    if (SUPPORTED.includes(base)) return base;
  }
  return 'en';
}

/** `en` or `hi`. */
export const lang = pickLanguage();

/** Whether the customer picked the language here (then the API is asked for it too). */
export const langChosen = (() => {
  try { return SUPPORTED.includes(localStorage.getItem(CHOSEN_KEY)); } catch { return false; }
})();

/** The locale for number and date formats: the browser's own when it is of this language. */
export const locale = (() => {
  const own = (navigator.languages || []).find((tag) => tag.toLowerCase().split('-')[0] === lang);
  return own || (lang === 'hi' ? 'hi-IN' : 'en-IN');
})();

export function chooseLanguage(code) {
  try { localStorage.setItem(CHOSEN_KEY, code); } catch { /* ignore */ }
}

const plurals = new Intl.PluralRules(locale);

/** The translated string for `key`, with `{name}` placeholders filled from `vars`. */
export function t(key, vars = {}) {
  let entry = STRINGS[lang][key] ?? STRINGS.en[key] ?? key;
  if (typeof entry === 'object') entry = entry[plurals.select(vars.n ?? 0)] ?? entry.other;
  return entry.replace(/\{(\w+)\}/g, (_, name) => (vars[name] ?? `{${name}}`));
}

/** "A5, A6 and A7" in the UI language. */
export function list(items) {
  try {
    return new Intl.ListFormat(locale, { style: 'long', type: 'conjunction' }).format(items);
  } catch {
    return items.join(', ');
  }
}

const digitsCache = new Map();
function fractionDigits(currency) {
  if (!digitsCache.has(currency)) {
    const digits = new Intl.NumberFormat('en', { style: 'currency', currency })
      .resolvedOptions().maximumFractionDigits;
    digitsCache.set(currency, digits);
  }
  return digitsCache.get(currency);
}

/**
 * Money from the API (`{amount: minor units, currency}`). `short` drops ".00" from whole
 * amounts (seat prices); totals always show their minor units.
 */
export function money(value, { short = false } = {}) {
  if (!value) return '';
  const digits = fractionDigits(value.currency);
  const scale = 10 ** digits;
  const whole = value.amount % scale === 0;
  return new Intl.NumberFormat(locale, {
    style: 'currency',
    currency: value.currency,
    minimumFractionDigits: short && whole ? 0 : digits,
    maximumFractionDigits: digits,
  }).format(value.amount / scale);
}

/** Negative money, for discounts. */
export function minus(value) {
  return money({ amount: -Math.abs(value.amount), currency: value.currency });
}

// Local times from the API ("2026-11-22T14:00:00+05:30") are shown as written: the wall
// clock of the theatre, whatever the browser's own timezone is.
function wallClock(local) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(local || '');
  if (!m) return null;
  return new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5]));
}

const timeFormat = new Intl.DateTimeFormat(locale, { hour: 'numeric', minute: '2-digit', timeZone: 'UTC' });
const dayFormat = new Intl.DateTimeFormat(locale, { weekday: 'short', day: 'numeric', month: 'short', timeZone: 'UTC' });
const longDayFormat = new Intl.DateTimeFormat(locale, { weekday: 'long', day: 'numeric', month: 'long', timeZone: 'UTC' });

/** "2:00 pm" from a local RFC 3339 time. */
export function showTime(local) {
  const d = wallClock(local);
  return d ? timeFormat.format(d) : local;
}

/** "Sunday 22 November, 2:00 pm" from a local RFC 3339 time. */
export function showDateTime(local) {
  const d = wallClock(local);
  return d ? `${longDayFormat.format(d)}, ${timeFormat.format(d)}` : local;
}

/** "Sun 22 Nov" for a YYYY-MM-DD date. */
export function dayLabel(ymd) {
  const [y, m, d] = ymd.split('-').map(Number);
  return dayFormat.format(new Date(Date.UTC(y, m - 1, d)));
}

/** Today's date (YYYY-MM-DD) in an IANA timezone. */
export function todayIn(timeZone) {
  try {
    return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' })
      .format(new Date());
  } catch {
    return new Date().toISOString().slice(0, 10);
  }
}

/** `ymd` plus `days` days. */
export function addDays(ymd, days) {
  const [y, m, d] = ymd.split('-').map(Number);
  return new Date(Date.UTC(y, m - 1, d + days)).toISOString().slice(0, 10);
}

/** A UTC instant shown in a timezone (for times the API gives only in UTC). */
export function instantIn(iso, timeZone) {
  try {
    return new Intl.DateTimeFormat(locale, {
      weekday: 'long', day: 'numeric', month: 'long', hour: 'numeric', minute: '2-digit', timeZone,
    }).format(new Date(iso));
  } catch {
    return iso;
  }
}

let languageNames = null;
/** "Hindi" for `hi`, in the UI language. */
export function languageName(code) {
  try {
    languageNames ??= new Intl.DisplayNames([locale], { type: 'language' });
    return languageNames.of(code) || code;
  } catch {
    return code;
  }
}

let regionNames = null;
export function countryName(code) {
  try {
    regionNames ??= new Intl.DisplayNames([locale], { type: 'region' });
    return regionNames.of(code) || code;
  } catch {
    return code;
  }
}

export function genreName(genre) {
  if (lang === 'hi' && GENRES_HI[genre]) return GENRES_HI[genre];
  return genre.charAt(0).toUpperCase() + genre.slice(1);
}

export function categoryName(category) {
  return t(`cat.${category}`);
}

export function duration(minutes) {
  return t('minutes', { h: Math.floor(minutes / 60), m: minutes % 60 });
}
