import { createApp } from 'vue';
import 'sightline';
import App from './App.vue';

createApp(App).mount('#app');
